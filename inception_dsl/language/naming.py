"""How statements are named. The names become IR node ids and nn.Module attribute
paths (state_dict keys), so elaborate.py and the Python backend both call these
functions: change a rule here and saved weights stop loading.

- a labelled statement is called by its label;
- in a concat, an unlabelled branch i is `branch{i}`;
- in a sequence, an unlabelled block call is named after the block (`inception_a`,
  then `inception_a_2`, ...), an unlabelled layer `{layer}{i}` (`conv0`, `maxpool3`),
  an unlabelled concat/reduction/residual/sequence `concat{i}` etc., with i the
  statement's position in the sequence;
- *transparent* statements add no level: the single unlabelled concat or residual that
  makes up a whole block body (Inception-A is its concat), and unlabelled concats inside
  a residual body (Block35's branches sit beside its up-projection, as in timm) when
  it is the body's only one."""

from __future__ import annotations

from inception_dsl.language import syntax as ast

__all__ = ["TRANSPARENT", "statement_names", "is_single_compound"]

TRANSPARENT = None  # the name given to a statement that adds no scope level


def is_single_compound(body: tuple[ast.Stmt, ...]) -> bool:
    """A body that is exactly one unlabelled concat/residual (and maybe input/output)."""
    statements = [s for s in body if isinstance(s, ast.Labeled)]
    return (
        len(statements) == 1
        and statements[0].label is None
        and statements[0].repeat is None
        and isinstance(statements[0].op, (ast.Concat, ast.Residual))
    )


def _kind(op: ast.Op) -> str:
    if isinstance(op, ast.Call):
        return op.name
    if isinstance(op, ast.Concat):
        return "reduction" if op.reduction else "concat"
    if isinstance(op, ast.Residual):
        return "residual"
    return "seq"


def statement_names(
    body: tuple[ast.Stmt, ...],
    context: str,
    blocks: set[str] | dict,
) -> list[str | None]:
    """One name per `Labeled` statement of `body`, in order (other statements skipped).

    context: "block" (a block or network body), "seq", "concat", or "residual"."""
    statements = [s for s in body if isinstance(s, ast.Labeled)]
    names: list[str | None] = []
    used_block_names: dict[str, int] = {}
    labels = {s.label for s in statements if s.label}
    single = context == "block" and is_single_compound(body)
    # only a residual body's *one* unlabelled concat is transparent: two would give their
    # branches the same names (`branch0` twice), so several are numbered like any statement
    residual_concats = [s for s in statements if s.label is None and s.repeat is None and isinstance(s.op, ast.Concat)]
    transparent_concat = context == "residual" and len(residual_concats) == 1
    for index, stmt in enumerate(statements):
        op = stmt.op
        if stmt.label is not None:
            names.append(stmt.label)
        elif context == "concat":
            names.append(f"branch{index}")
        elif stmt.repeat is None and (
            (single and isinstance(op, (ast.Concat, ast.Residual)))
            or (transparent_concat and isinstance(op, ast.Concat))
        ):
            names.append(TRANSPARENT)
        elif isinstance(op, ast.Call) and op.name in blocks:
            count = used_block_names.get(op.name, 0) + 1
            used_block_names[op.name] = count
            name = op.name if count == 1 else f"{op.name}_{count}"
            while name in labels:
                count += 1
                name = f"{op.name}_{count}"
            used_block_names[op.name] = count
            names.append(name)
        else:
            names.append(f"{_kind(op)}{index}")
    return names
