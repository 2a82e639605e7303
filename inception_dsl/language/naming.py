"""How statements are named. The names become IR node ids and nn.Module attribute
paths (state_dict keys), so elaborate.py and the Python backend both call these
functions: change a rule here and saved weights stop loading. The rules are chosen so
that a spec written with the reference's labels has the reference's state_dict keys
(timm's `features.6.branch1.0.conv.weight`, torchvision's `layer1.0.downsample.1.weight`).

- a labelled statement is called by its label;
- the label `_` is *transparent*: the statement adds no level, its parts are named
  in the enclosing scope (timm's InceptionC keeps `branch1_0`, `branch1_1a` beside
  `branch0`, with no `branch1` module);
- in a concat, an unlabelled branch i is `branch{i}`;
- in a `{ ... }` sequence, unlabelled statements are numbered by position as
  `nn.Sequential` numbers its children: the index is the number of modules before the
  statement, and an unlabelled `X x4` (a literal count) is 4 members of the sequence itself
  (as `nn.Sequential(*a, *[X() for _ in range(4)])`), not one nested Sequential;
- in a block or network body (and a residual body), an unlabelled block call is named
  after the block (`inception_a`, then `inception_a_2`, ...), an unlabelled layer
  `{layer}{i}` (`conv0`, `maxpool3`), an unlabelled concat/reduction/residual/sequence
  `concat{i}` etc., with i the statement's position in the body;
- labelled `xN` gives `label.0 ... label.{N-1}` (an nn.Sequential);
- other *transparent* statements add no level either: the single unlabelled concat or
  residual that makes up a whole block body (Inception-A is its concat), and the
  unlabelled concat inside a residual body (Block35's branches sit beside its
  up-projection, as in timm) when it is the body's only one;
- a residual's `shortcut { g }` is the module `shortcut` (a sequence), unless `g` is one
  labelled statement, which is then named by its label beside the body's parts
  (torchvision's `downsample`).

A name is an nn.Module attribute (or an nn.Sequential child), so it may not be one of
torch.nn.Module's own attributes (`forward`, `training`, `_apply`, `register_forward_hook`,
`type`, ...): `reserved_name` says which, and elaborate.py refuses them with a located E301
(docs/backend.md). Rejected rather than mangled: a mangled attribute would change the
state_dict keys, which are the names themselves."""

from __future__ import annotations

from inception_dsl.core import syntax

__all__ = ["TRANSPARENT", "TRANSPARENT_LABEL", "statement_names", "is_single_compound", "is_positional",
           "is_spliced", "literal_count", "instance_names", "shortcut_name", "RESERVED_NAMES", "reserved_name"]

TRANSPARENT = None  # the name given to a statement that adds no scope level
TRANSPARENT_LABEL = "_"  # the label that asks for it

# The public attributes of torch.nn.Module, nn.Sequential and nn.ModuleList instances
# (torch 2.x; tests/test_module_names.py fails when a newer torch adds one), plus the
# attribute every generated module sets. Every name that starts with `_` is reserved too
# (`_apply`, `_modules`, `__class__`, ... and whatever private state torch adds next),
# except the label `_` itself, which adds no scope level (TRANSPARENT_LABEL).
RESERVED_NAMES = frozenset({
    "T_destination", "add_module", "append", "apply", "bfloat16", "buffers", "call_super_init", "children",
    "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extend", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "insert", "ipu", "load_state_dict",
    "modules", "mtia", "named_buffers", "named_children", "named_modules", "named_parameters", "parameters", "pop",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule", "share_memory",
    "state_dict", "to", "to_empty", "train", "training", "type", "xpu", "zero_grad", "out_channels",
})


def reserved_name(name: str | None) -> bool:
    """Whether `name` cannot be an attribute of a generated nn.Module."""
    return name is not None and name != TRANSPARENT_LABEL and (name in RESERVED_NAMES or name.startswith("_"))


def is_single_compound(body: tuple[syntax.Stmt, ...]) -> bool:
    """A body that is exactly one unlabelled, unconditional concat/residual (and maybe
    input/output): its parts then live directly in the enclosing scope. With `when` (or
    `from`) the statement is a member of its own, which the condition can switch off."""
    statements = [s for s in body if isinstance(s, syntax.Labeled)]
    return (
        len(statements) == 1
        and statements[0].label is None
        and statements[0].repeat is None
        and statements[0].condition is None
        and statements[0].source is None
        and isinstance(statements[0].op, (syntax.Concat, syntax.Residual))
    )


def is_positional(context: str, stmt: syntax.Labeled) -> bool:
    """An unlabelled statement of a `{ ... }` sequence: named by its position."""
    return context == "seq" and stmt.label is None


def literal_count(stmt: syntax.Labeled) -> int | None:
    """N of `xN` when it is written as a number (`x4`), else None (`x n`, or no repetition)."""
    repeat = stmt.repeat
    if isinstance(repeat, syntax.Num) and isinstance(repeat.value, int) and not isinstance(repeat.value, bool):
        return repeat.value
    return None


def is_spliced(context: str, stmt: syntax.Labeled) -> bool:
    """An unlabelled `X x4` in a `{ ... }` sequence: its instances are the sequence's own
    members. (A count given by an expression, `x n`, keeps one nested member, so that the
    positions after it do not depend on parameter values.)"""
    return is_positional(context, stmt) and literal_count(stmt) is not None


def instance_names(context: str, stmt: syntax.Labeled, name: str, count: int) -> list[str]:
    """The names (relative to the statement's scope) of the `count` instances of
    `stmt xN` named `name`: `name.0 ...`, or, spliced, the positions `name ... name+N-1`
    of the sequence itself."""
    if is_spliced(context, stmt):
        return [str(int(name) + i) for i in range(count)]
    return [f"{name}.{i}" for i in range(count)]


def shortcut_name(shortcut: tuple[syntax.Stmt, ...]) -> str | None:
    """`shortcut`, or TRANSPARENT when the shortcut is one labelled statement."""
    statements = [s for s in shortcut if isinstance(s, syntax.Labeled)]
    if len(statements) == 1 and statements[0].label not in (None, TRANSPARENT_LABEL):
        return TRANSPARENT
    return "shortcut"


def _kind(op: syntax.Transform) -> str:
    if isinstance(op, syntax.Call):
        return op.name
    if isinstance(op, syntax.Concat):
        return op.word
    if isinstance(op, syntax.Residual):
        return "residual"
    return "seq"


def statement_names(
    body: tuple[syntax.Stmt, ...],
    context: str,
    blocks: set[str] | dict,
) -> list[str | None]:
    """One name per `Labeled` statement of `body`, in order (other statements skipped).

    context: "block" (a block or network body), "seq", "concat", or "residual"."""
    statements = [s for s in body if isinstance(s, syntax.Labeled)]
    names: list[str | None] = []
    used_block_names: dict[str, int] = {}
    labels = {s.label for s in statements if s.label}
    single = context == "block" and is_single_compound(body)
    # only a residual body's *one* unlabelled concat is transparent: two would give their
    # branches the same names (`branch0` twice), so several are numbered like any statement
    residual_concats = [s for s in statements if s.label is None and s.repeat is None and isinstance(s.op, syntax.Concat)]
    transparent_concat = context == "residual" and len(residual_concats) == 1
    position = 0  # modules before this statement, in a `{ ... }` sequence
    for index, stmt in enumerate(statements):
        op = stmt.op
        if stmt.label == TRANSPARENT_LABEL:
            names.append(TRANSPARENT)
        elif stmt.label is not None:
            names.append(stmt.label)
        elif context == "concat":
            names.append(f"branch{index}")
        elif context == "seq":
            names.append(str(position))
        elif stmt.repeat is None and (
            (single and isinstance(op, (syntax.Concat, syntax.Residual)))
            or (transparent_concat and isinstance(op, syntax.Concat))
        ):
            names.append(TRANSPARENT)
        elif isinstance(op, syntax.Call) and op.name in blocks:
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
        position += (literal_count(stmt) or 1) if names[-1] is not TRANSPARENT else 0
    return names
