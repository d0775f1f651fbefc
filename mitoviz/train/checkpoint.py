"""The training state of one fit on disk, so a killed or cancelled process resumes mid-fit.

One file, ``train-state.pt``, replaced atomically (a temporary file in the same folder, fsync,
rename): the weights that change (trainable parameters and buffers), the optimiser and scheduler,
the torch RNG states, epoch and step, the best epoch so far with its weights, and the history.
It holds only tensors and plain values and is read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mitoviz.errors import StorageError

STATE_FILE = "train-state.pt"
FORMAT = 1


def mutable_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """CPU copies of what training changes: trainable parameters and all buffers (BatchNorm statistics)."""
    return {
        name: value.detach().to("cpu", copy=True)
        for name, value in net.state_dict(keep_vars=True).items()
        if not isinstance(value, nn.Parameter) or value.requires_grad
    }


def load_mutable_state(net: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put :func:`mutable_state` back; every key must belong to ``net``."""
    result = net.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise StorageError(
            f"A training checkpoint holds weights this network lacks: {result.unexpected_keys[:3]}.",
            "Delete the checkpoint folder to start the fit again.",
        )


def save_state(folder: Path, payload: dict[str, Any]) -> Path:
    """Write the training state atomically; a reader (or a resume) never sees half a file."""
    folder = Path(folder)
    path = folder / STATE_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{STATE_FILE}.")
        with os.fdopen(fd, "wb") as fh:
            torch.save({"format": FORMAT, **payload}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(NameError, OSError):
            Path(tmp).unlink(missing_ok=True)
        raise StorageError(
            f"Cannot write the training checkpoint {path}: {exc.strerror or exc}.",
            "Free disk space or fix the folder's permissions.",
        ) from exc
    return path


def load_state(folder: Path | None) -> tuple[dict[str, Any] | None, str]:
    """The saved state and "" — or None and why it was not used (missing, unreadable, other format)."""
    if folder is None:
        return None, ""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        return None, ""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        return None, f"checkpoint {path} ignored: unreadable ({type(exc).__name__})"
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return None, f"checkpoint {path} ignored: written by another version"
    return state, ""


def rng_states(device: str) -> dict[str, Any]:
    states: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.startswith("cuda"):
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["cpu"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
