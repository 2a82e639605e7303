"""What the operations and the front end both stand on, importing nothing above it:
source text and spans (`source.py`), the error-code catalogue (`codes.py`), diagnostics
(`diagnostics.py`), the syntax tree (`syntax.py`), expression values (`values.py`), shape
arithmetic (`shapes.py`), resource limits (`limits.py`), layer signatures and argument
coercions (`signatures.py`), Python literals and expressions for generated source
(`literals.py`, `python_exprs.py`), the helper classes that ops add to generated files
(`helper_classes.py`), the directed graph behind the IR (`digraph.py`) and the package
version (`version.py`)."""
