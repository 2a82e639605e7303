"""Backends read a checked, shape-annotated ir.Graph and produce something, without torch:
a summary table (summary.py), diagrams (diagram/: DOT text, SVG through Graphviz) and
standalone PyTorch source (python/: text that imports torch when it runs). The modules
that import torch are in inception_dsl/runtime/."""
