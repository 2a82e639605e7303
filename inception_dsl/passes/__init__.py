"""Passes over the IR, one per file, each a function named after its file (sqlglot's
optimizer layout), in two packages: `analyses/` (infer_shapes, then budget: they run on
every check, through `analyses.run_analyses`) and `rewrites/` (the inference rewrites
that `rewrites/pipeline.py`'s `RULES` lists: they run only when optimization is asked
for). Passes stand on the IR and the ops only; the front end calls the analyses."""
