"""Backends read a shape-annotated ir.Graph and produce something: DOT text (dot.py),
summaries (summary.py), Python source and nn.Modules (torch_*.py, the only modules that
may import torch)."""
