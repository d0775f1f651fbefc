"""Reading a weights file without ever running code from it.

safetensors files are read as such (whatever their suffix); anything else goes through
``torch.load(weights_only=True)``, PyTorch's restricted unpickler. Every way a file can be refused
becomes a :class:`WeightsError` that says what the file is and what to do:

- it needs code to unpickle (a pickled object, not tensors): refused, the payload never runs;
- it is truncated or damaged (a zip without its directory, an early end of file);
- it is not a checkpoint at all (text, JSON, NumPy, HDF5, an empty file, a zip of other things).
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from mitoviz.errors import WeightsError

_CONVERT = (
    "If you trust its source, convert it once in a separate Python session: "
    "`sd = torch.load(path, weights_only=False)`, keep only the tensors, "
    "`safetensors.torch.save_file(sd, 'model.safetensors')`, and point mitoviz at that file."
)
_AGAIN = "Download it again (the published file, complete); check its size against the model page."

#: First bytes of formats people mistake for checkpoints, for a precise message.
_MAGIC = {
    b"\x93NUMPY": "a NumPy .npy array",
    b"\x89HDF": "an HDF5 (Keras/TensorFlow) file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"<!DOCTYPE": "an HTML page (a download that returned a web page)",
    b"<html": "an HTML page (a download that returned a web page)",
    b"version https://git-lfs": "a Git LFS pointer, not the file itself (run `git lfs pull`)",
    b"{": "a JSON or text file",
}


def _head(path: Path, n: int = 64) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise WeightsError(f"{path} cannot be opened ({exc}).", "Check the path and its permissions.") from exc


def _safetensors_header_size(head: bytes) -> int | None:
    """The JSON header length of a safetensors file, or None when the bytes are not one."""
    if len(head) < 9 or head[8:9] != b"{":
        return None
    n = int.from_bytes(head[:8], "little")
    return n if 0 < n < 100_000_000 else None


def _looks_like_safetensors(path: Path, head: bytes) -> bool:
    return path.suffix == ".safetensors" or _safetensors_header_size(head) is not None


def _read_safetensors(path: Path, head: bytes) -> dict[str, Any]:
    from safetensors.torch import load_file

    size = path.stat().st_size
    header = _safetensors_header_size(head)
    if header is None:
        kind = _sniff(head)
        raise WeightsError(
            f"{path} is named .safetensors but is {kind or 'not a safetensors file'}.", _AGAIN
        )
    if 8 + header > size:
        raise WeightsError(
            f"{path} is a truncated safetensors file ({size:,} bytes; its header alone needs {8 + header:,}).",
            _AGAIN,
        )
    try:
        with path.open("rb") as fh:
            fh.seek(8)
            meta = json.loads(fh.read(header))
        ends = [v["data_offsets"][1] for k, v in meta.items() if k != "__metadata__"]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise WeightsError(f"{path} has a damaged safetensors header ({exc}).", _AGAIN) from exc
    if ends and 8 + header + max(ends) > size:
        raise WeightsError(
            f"{path} is a truncated safetensors file: {size:,} bytes of {8 + header + max(ends):,}.", _AGAIN
        )
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise WeightsError(f"{path} is not a readable safetensors file ({exc}).", _AGAIN) from exc


def _sniff(head: bytes) -> str | None:
    if not head:
        return "empty (0 bytes)"
    for magic, kind in _MAGIC.items():
        if head.lstrip().startswith(magic):
            return kind
    if head[:2] == b"PK":
        return None  # a zip: torch's own format, judged by torch.load
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return "a text file" if printable == len(head) else None


def _refused_for_code(path: Path, message: str) -> WeightsError:
    found = re.search(r"Unsupported global[:\s]+(?:GLOBAL\s+)?([\w.<>]+)", message)
    detail = f"it calls {found.group(1)}" if found else message.splitlines()[0]
    return WeightsError(
        f"{path} was refused: unpickling it would run code ({detail}), and mitoviz never runs code from a "
        "weights file.",
        _CONVERT,
    )


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def read_checkpoint(path: Path) -> Any:
    """The object stored in a weights file, read without executing anything from it."""
    path = Path(path)
    head = _head(path)
    if _looks_like_safetensors(path, head):
        return _read_safetensors(path, head)
    kind = _sniff(head)
    if kind is not None:
        raise WeightsError(
            f"{path} is {kind}, not a PyTorch checkpoint or safetensors file.",
            "Point mitoviz at the published weights file (see `python -m mitoviz encoders`).",
        )
    import torch

    is_zip = zipfile.is_zipfile(path)
    try:
        with warnings.catch_warnings():  # a pickle of another protocol: refused below with a clearer message
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        if "Unsupported global" in message:
            raise _refused_for_code(path, message) from None
        operand = re.search(r"Unsupported operand (\d+)", message)
        what = (
            f"is not a PyTorch checkpoint (byte {int(operand.group(1)):#04x} is no pickle instruction "
            "the safe loader reads)"
            if operand
            else f"cannot be unpickled safely ({_first_line(exc)})"
        )
        raise WeightsError(f"{path} {what}.", _AGAIN + " " + _CONVERT) from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, ValueError… on damaged files
        message = str(exc)
        cut = isinstance(exc, EOFError) or any(m in message for m in ("EOF", "central directory", "truncated"))
        raise WeightsError(
            f"{path} cannot be read as a PyTorch checkpoint: the file is "
            f"{'truncated' if cut else 'damaged or of another format'} "
            f"({type(exc).__name__}: {_first_line(exc)[:200]}).",
            _AGAIN,
        ) from None
