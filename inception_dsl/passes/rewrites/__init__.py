"""The inference rewrites, one per file, and what they share: `pipeline.py` (`RULES` in
order, and `optimize`), `graph_edits.py` (bypass a node, redirect its uses) and
`weight_recipes.py` (how each new tensor is computed from the unoptimized state_dict)."""
