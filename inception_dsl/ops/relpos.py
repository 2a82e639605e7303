"""Relative position bias over a 2-D window (Swin, Liu et al. 2021, Eq. 4; timm's
`WindowAttention` and `RelPosBias`): a learned table `relative_position_bias_table` of
((2h-1)(2w-1), heads) values, one row per relative offset (dy, dx) between two positions
of an h x w window, and the non-persistent buffer `relative_position_index` (area, area)
that picks the row of each (query, key) pair, as timm's `get_relative_position_index`
computes it. The bias of a window is `table[index.view(-1)].view(area, area, -1)`
permuted to (heads, area, area) and added to the attention logits.

No layer word here: the machinery that attention ops with a relative bias share (the
window attention of ops/windows.py; 2-D relative attention). What an op takes from here:

* `table_rows(window)`: the table's row count; `bias_params(window, heads)` its size;
* `attach_source(module, window, heads)`: a module constructor (text, `nn`/`torch` only,
  for GraphModule) with the table and the index buffer registered on it;
* `bias_source(module, area)`: the (heads, area, area) bias of a flat forward;
* the helpers of generated files: `_relative_position_index(h, w)` (the index) and
  `_rel_pos_bias(table, index)` (the bias), and the class `RelPosBias(window, heads)`
  (an nn.Module holding the two under timm's names whose forward returns the
  (1, heads, area, area) bias, as timm's `RelPosBias.get_bias()`)."""

from __future__ import annotations

from inception_dsl.core.helper_classes import register_helper

__all__ = ["table_rows", "bias_params", "attach_source", "bias_source", "index_source", "RELPOS_HELPERS"]


def table_rows(window: tuple[int, int]) -> int:
    """Rows of the bias table of an h x w window: one per relative offset."""
    return (2 * window[0] - 1) * (2 * window[1] - 1)


def bias_params(window: tuple[int, int], heads: int) -> int:
    return table_rows(window) * heads


def index_source(window: tuple[int, int]) -> str:
    """A torch-only expression of timm's relative_position_index (area, area) for `window`
    (no lambda: GraphModule evaluates it with `torch` as a local name)."""
    h, w = window
    rows, cols = f"torch.arange({h}).repeat_interleave({w})", f"torch.arange({w}).repeat({h})"
    return (f"({rows}[:, None] - {rows}[None, :] + {h - 1}) * {2 * w - 1} + {cols}[:, None] - {cols}[None, :]"
            f" + {w - 1}")


def attach_source(module: str, window: tuple[int, int], heads: int, buffers: dict[str, str] | None = None) -> str:
    """`module` (a constructor expression) with `relative_position_bias_table` (a parameter)
    and `relative_position_index` (a non-persistent buffer) registered on it, and the
    non-persistent `buffers` (name -> expression): an expression with only `nn` and
    `torch` in scope (which a lambda's body cannot see, so every tensor is an argument)."""
    extra = dict(buffers or {})
    names = [f"b{i}" for i in range(len(extra))]
    calls = "".join(f"m.register_buffer({name!r}, {arg}, persistent=False), " for name, arg in zip(extra, names))
    table = f"nn.Parameter(torch.zeros({table_rows(window)}, {heads}))"
    return (f"(lambda m, t, i{''.join(', ' + n for n in names)}: (m.register_parameter('relative_position_bias_table', t), "
            f"m.register_buffer('relative_position_index', i, persistent=False), {calls}m)[-1])"
            f"({module}, {table}, {index_source(window)}{''.join(', ' + e for e in extra.values())})")


def bias_source(module: str, area: int) -> str:
    """The (heads, area, area) bias of the module `module` (a flat forward's expression)."""
    return (f"{module}.relative_position_bias_table[{module}.relative_position_index.view(-1)]"
            f".view({area}, {area}, -1).permute(2, 0, 1)")


register_helper("_relative_position_index", '''
def _relative_position_index(height: int, width: int) -> torch.Tensor:
    """For each (query, key) pair of an height x width window, the row of the relative
    position bias table that holds their offset (timm's get_relative_position_index)."""
    coords = torch.stack(torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")).flatten(1)
    rows = coords[0][:, None] - coords[0][None, :] + height - 1
    return rows * (2 * width - 1) + coords[1][:, None] - coords[1][None, :] + width - 1
''')

register_helper("_rel_pos_bias", '''
def _rel_pos_bias(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The (heads, area, area) relative position bias: the table's rows picked by the index."""
    area = index.shape[0]
    return table[index.view(-1)].view(area, area, -1).permute(2, 0, 1)
''')

register_helper("RelPosBias", '''
class RelPosBias(nn.Module):
    """A learned relative position bias over a window (timm's RelPosBias, Swin's table):
    `relative_position_bias_table` ((2h-1)(2w-1), heads) and the non-persistent
    `relative_position_index` (h*w, h*w); forward() is the (1, heads, h*w, h*w) bias."""

    def __init__(self, window, heads: int):
        super().__init__()
        height, width = (window, window) if isinstance(window, int) else window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * height - 1) * (2 * width - 1), heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)  # as timm
        self.register_buffer("relative_position_index", _relative_position_index(height, width), persistent=False)

    def forward(self) -> torch.Tensor:
        return _rel_pos_bias(self.relative_position_bias_table, self.relative_position_index).unsqueeze(0)
''', needs=("_relative_position_index", "_rel_pos_bias"))

RELPOS_HELPERS = ("_relative_position_index", "_rel_pos_bias", "RelPosBias")
