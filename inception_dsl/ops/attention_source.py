"""The classes that generated files hold for `attention` (ops/attention.py): timm's ViT
`Attention`, and `GridAttention`, EfficientFormer's and LeViT's attention over the tokens of
a grid (per-head key and value widths, attention biases, a query stride, LinearNorm
projections, an activation before the projection), with timm's parameter names."""

from __future__ import annotations

from inception_dsl.core.helper_classes import register_helper

__all__ = ["BIAS_IDXS_TEXT"]

# The (queries, keys) index of each pair's offset |dy| * w + |dx| into a head's biases, the
# queries on the grid h x w subsampled by s (timm's attention_bias_idxs), as one expression of
# torch alone (a module's constructor text, evaluated with only `nn` and `torch` in scope, which
# a lambda's body sees through its defaults);
# built on the CPU also under torch.device("meta"), as the buffer is not part of the state_dict.
BIAS_IDXS_TEXT = (
    "(lambda k, q, torch=torch: ((q[:, :, None] - k[:, None, :]).abs() * torch.tensor([{w}, 1], device='cpu')[:, None, None])"
    ".sum(0))(torch.stack(torch.meshgrid(torch.arange({h}, device='cpu'), torch.arange({w}, device='cpu'), "
    "indexing='ij')).flatten(1), torch.stack(torch.meshgrid(torch.arange(0, {h}, {s}, device='cpu'), "
    "torch.arange(0, {w}, {s}, device='cpu'), indexing='ij')).flatten(1))")

register_helper("Attention", '''
class Attention(nn.Module):
    """Multi-head self-attention on (B, N, C) tokens, as timm's Attention (parameter names
    `qkv`, `q_norm`, `k_norm`, `proj`), computed with F.scaled_dot_product_attention."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True, qk_norm: bool = False,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, eps: float = 1e-6, proj_bias: bool = True):
        super().__init__()
        if heads < 1 or dim % heads:  # check's E213; a class built here with other widths refuses them too
            raise ValueError(f"Attention: {heads} heads do not divide {dim} channels")
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.q_norm = nn.LayerNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))
''')

register_helper("_attention_bias_idxs", """
def _attention_bias_idxs(grid: tuple, stride: int = 1) -> torch.Tensor:
    \"\"\"For each query (the grid subsampled by `stride`) and key (the grid), the index
    |dy| * w + |dx| of their offset into a head's attention biases (timm's attention_bias_idxs);
    on the CPU also under torch.device("meta"): the buffer is not in the state_dict.\"\"\"
    h, w = grid
    keys = torch.stack(torch.meshgrid(torch.arange(h, device="cpu"), torch.arange(w, device="cpu"),
                                      indexing="ij")).flatten(1)
    queries = torch.stack(torch.meshgrid(torch.arange(0, h, stride, device="cpu"),
                                         torch.arange(0, w, stride, device="cpu"), indexing="ij")).flatten(1)
    offsets = (queries[:, :, None] - keys[:, None, :]).abs()
    return offsets[0] * w + offsets[1]
""")

register_helper("GridAttention", '''
class GridAttention(nn.Module):
    """Multi-head attention over the tokens of a grid, as EfficientFormer's and LeViT's (timm's
    names): each head has queries and keys of `key_dim` channels and values of
    int(attn_ratio * key_dim); `qkv` rows grouped per head (q, k, v of head 0, then of head 1);
    `attn_bias`: a learned bias per head and grid offset (`attention_biases`, indexed by the
    buffer `attention_bias_idxs`) added to the logits; `stride`: queries from the grid
    subsampled (`kv` and `q` projections); `bn`: each projection a Linear without bias and a
    BatchNorm1d (`<name>.linear`, `<name>.bn`); `act` before the output projection `proj`."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True, qk_norm: bool = False, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, eps: float = 1e-6, proj_bias: bool = True, key_dim: int = 32,
                 attn_ratio: float = 1.0, attn_bias: bool = False, stride: int = 1, out=None, bn: bool = False,
                 act: nn.Module | None = None, grid=None):
        super().__init__()
        if (attn_bias or stride > 1) and grid is None:
            raise ValueError("GridAttention: attention biases and a stride need the grid")
        self.heads, self.key_dim, self.value_dim = heads, key_dim, int(attn_ratio * key_dim)
        self.stride, self.grid, self.bn = stride, grid, bn
        self.attn_drop = attn_drop
        value, out = heads * self.value_dim, out or dim
        if stride > 1:
            self.kv = self._linear(dim, heads * (key_dim + self.value_dim), qkv_bias)
            self.q = self._linear(dim, heads * key_dim, qkv_bias)
        else:
            self.qkv = self._linear(dim, heads * (2 * key_dim + self.value_dim), qkv_bias)
        self.q_norm = nn.LayerNorm(key_dim, eps=eps) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(key_dim, eps=eps) if qk_norm else nn.Identity()
        if attn_bias:
            self.attention_biases = nn.Parameter(torch.zeros(heads, grid[0] * grid[1]))
            self.register_buffer("attention_bias_idxs", _attention_bias_idxs(grid, stride), persistent=False)
        else:
            self.attention_biases = None
        self.act = act if act is not None else nn.Identity()
        self.proj = self._linear(value, out, proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def _linear(self, fan_in: int, fan_out: int, bias: bool) -> nn.Module:
        if self.bn:
            return nn.ModuleDict({"linear": nn.Linear(fan_in, fan_out, bias=False), "bn": nn.BatchNorm1d(fan_out)})
        return nn.Linear(fan_in, fan_out, bias=bias)

    def _project(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if not self.bn:
            return layer(x)
        x = layer["linear"](x)
        return layer["bn"](x.flatten(0, 1)).view_as(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        h, kd, vd = self.heads, self.key_dim, self.value_dim
        if self.stride > 1:
            k, v = self._project(self.kv, x).view(B, N, h, kd + vd).transpose(1, 2).split([kd, vd], 3)
            x = x.view(B, self.grid[0], self.grid[1], C)[:, ::self.stride, ::self.stride].reshape(B, -1, C)
            q = self._project(self.q, x).view(B, -1, h, kd).transpose(1, 2)
        else:
            q, k, v = self._project(self.qkv, x).view(B, N, h, 2 * kd + vd).transpose(1, 2).split([kd, kd, vd], 3)
        q, k = self.q_norm(q), self.k_norm(k)
        mask = self.attention_biases[:, self.attention_bias_idxs] if self.attention_biases is not None else None
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.attn_drop if self.training else 0.0,
                                           scale=kd ** -0.5)
        x = self.act(x.transpose(1, 2).reshape(B, q.shape[2], h * vd))
        return self.proj_drop(self._project(self.proj, x))
''', needs=("_attention_bias_idxs",))
