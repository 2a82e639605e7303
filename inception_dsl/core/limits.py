"""Resource limits, checked before work is done. Each can be raised from the command
line (`--max-params`, ...) or through `Limits(...)` in the API; docs/limits.md lists
them with the reason for each default."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits", "DEFAULT_LIMITS"]


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 8 * 1024 * 1024  # a spec is text; 8 MiB is ~100x Inception-v4 unrolled
    max_tokens: int = 100_000  # tokens of a spec and its imports: Inception-v4 has ~1,500; parsing runs ~30 us a token
    max_nesting: int = 64  # brackets inside brackets, in one file
    max_import_depth: int = 32
    max_repeat: int = 10_000  # one `xN`
    max_call_depth: int = 64  # blocks calling blocks
    max_nodes: int = 100_000  # IR nodes after expansion: Inception-v4 has ~500; elaboration runs ~25k nodes/s
    max_params: int = 2_000_000_000
    max_activation_bytes: int = 64 * 1024**3  # float32 activations of one sample, all layers
    max_yaml_bytes: int = 64 * 1024  # parameter files and sweep grids: a few dozen lines; PyYAML reads ~300 KiB/s
    max_weights_bytes: int = 16 * 1024**3  # a weights file (.pth, .safetensors); ViT-H/14 is ~2.5 GB
    max_variants: int = 100_000  # variants one sweep checks (the grid's product, or --sample): ~4 min at 2.5 ms each
    # imports must resolve inside this directory; None: the directory of the top-level spec
    import_root: str | None = None


DEFAULT_LIMITS = Limits()
