"""Reading a weights file (`load(weights=...)`, `pretrained=` a local file, `convert
--weights`): one reader for all three.

The file is opened by core/files.py (a regular file only, at most
`Limits.max_weights_bytes`: a FIFO, /dev/zero or a directory is refused at once), read with
`torch.load(weights_only=True)` (no code runs) or as safetensors, and must hold a mapping of
names to tensors (a training checkpoint that wraps it under "state_dict" too). Anything
else, a text file such as /etc/passwd included, is a CheckpointError that names the file
and says what it is not, never a bare exception from deep inside torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from inception_dsl.core.files import FileRefused, regular_file
from inception_dsl.core.limits import DEFAULT_LIMITS

__all__ = ["CheckpointError", "read_checkpoint"]


class CheckpointError(ValueError):
    """A weights file that cannot be read as a state_dict."""


def read_checkpoint(path: str | Path, max_bytes: int = DEFAULT_LIMITS.max_weights_bytes) -> dict[str, torch.Tensor]:
    """The state_dict in a .safetensors or torch.save file."""
    try:
        with regular_file(path, max_bytes) as handle:
            data = _load(handle, Path(path))
    except FileRefused as refused:
        raise CheckpointError(f"{refused} (weights are read from a .pth or .safetensors file)") from None
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]  # a training checkpoint wrapping the weights
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path}: not a state_dict (a mapping of names to tensors) but a {type(data).__name__}")
    odd = next((k for k, v in data.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if odd is not None:
        raise CheckpointError(f"{path}: not a state_dict: the entry {str(odd)[:80]!r} is not a named tensor")
    return dict(data)


def _load(handle, path: Path) -> Any:
    if path.suffix == ".safetensors":
        from safetensors.torch import load

        try:
            return load(handle.read())
        except Exception as error:  # noqa: BLE001 - safetensors raises its own kinds for a foreign file
            raise CheckpointError(f"{path}: not a safetensors file ({_first_line(error)})") from None
    try:
        return torch.load(handle, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - a corrupt or foreign file: torch raises many kinds
        raise CheckpointError(f"{path}: not a PyTorch checkpoint written by torch.save ({_first_line(error)})") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
