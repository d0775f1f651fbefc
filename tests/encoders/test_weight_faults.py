"""Every kind of refused weights file gives a WeightsError that says what the file is and what to do
(issue 15 item 6): never a raw UnpicklingError, RuntimeError or KeyError, and never a payload run.
Each case is a real file written here in the format it pretends to be."""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mitoviz.config import Settings
from mitoviz.encoders import create_encoder, get_spec
from mitoviz.encoders.spec import to_jsonable
from mitoviz.errors import WeightsError
from tests.encoders.published import TINY, Payload, small_variant, tiny_state_dict, write_published


def _torch_bytes(obj: object, zipped: bool = True) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zipped)
    return buf.getvalue()


def _safetensors_bytes() -> bytes:
    from safetensors.torch import save

    return save(tiny_state_dict())


def _zip_of_other_files() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "not a checkpoint")
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 3), np.float32))
    return buf.getvalue()


def _bad_header() -> bytes:
    data = bytearray(_safetensors_bytes())
    data[8:20] = b'{"oops": [1,'
    return bytes(data)


# name → (file name, bytes to write (given the payload marker), what the message must say)
CASES: dict[str, tuple[str, Callable[[Path], bytes], str]] = {
    "pickle needing code (torch.save)": (
        "tiny.pth", lambda m: _torch_bytes({**tiny_state_dict(), "evil": Payload(m)}), "would run code"
    ),
    "pickle needing code (plain pickle)": (
        "tiny.pth", lambda m: pickle.dumps({"w": [1.0], "evil": Payload(m)}, protocol=2), "would run code"
    ),
    "truncated zip checkpoint": ("tiny.pth", lambda m: _torch_bytes(tiny_state_dict())[:2000], "truncated"),
    "truncated legacy checkpoint": (
        "tiny.pth", lambda m: _torch_bytes(tiny_state_dict(), zipped=False)[:-50], "truncated"
    ),
    "truncated safetensors": ("tiny.safetensors", lambda m: _safetensors_bytes()[:-100], "truncated safetensors"),
    "damaged safetensors header": ("tiny.safetensors", lambda m: _bad_header(), "damaged safetensors header"),
    "checkpoint named .safetensors": (
        "tiny.safetensors", lambda m: _torch_bytes(tiny_state_dict()), "not a safetensors file"
    ),
    "empty file": ("tiny.pth", lambda m: b"", "empty"),
    "text file": ("tiny.pth", lambda m: b"weights will be here\n", "a text file"),
    "JSON": ("tiny.pth", lambda m: b'{"weights": [1, 2]}', "JSON"),
    "NumPy array": ("tiny.pth", lambda m: _npy(), "NumPy"),
    "HDF5 (Keras)": ("tiny.pth", lambda m: b"\x89HDF\r\n\x1a\n" + bytes(200), "HDF5"),
    "HTML page": ("tiny.pth", lambda m: b"<!DOCTYPE html><html>Sign in</html>", "HTML page"),
    "Git LFS pointer": (
        "tiny.pth", lambda m: b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n", "git lfs pull"
    ),
    "zip of other files": ("tiny.pth", lambda m: _zip_of_other_files(), "damaged or of another format"),
    "unknown pickle opcodes": ("tiny.pth", lambda m: pickle.dumps([1, 2, 3], protocol=5), "not a PyTorch checkpoint"),
    "a list of tensors": ("tiny.pth", lambda m: _torch_bytes([torch.zeros(3)]), "holds a list, not a state dict"),
    "tensors under an unknown key": (
        "tiny.pth", lambda m: _torch_bytes({"net": tiny_state_dict(), "epoch": 3}), "top-level keys are net, epoch"
    ),
    "strings, not tensors": ("tiny.pth", lambda m: _torch_bytes({"cls_token": "x"}), "top-level keys are cls_token"),
    "wrong keys": (
        "tiny.pth", lambda m: _torch_bytes({f"encoder.{k}": v for k, v in tiny_state_dict().items()}), "missing"
    ),
    "wrong shapes": (
        "tiny.pth", lambda m: _torch_bytes({**tiny_state_dict(), "cls_token": torch.zeros(1, 1, 12)}),
        "shape mismatch",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_weights_give_a_clear_error(case: str, tmp_path: Path, settings: Settings) -> None:
    name, content, says = CASES[case]
    marker = tmp_path / "payload-ran"
    file = tmp_path / name
    file.write_bytes(content(marker))

    with pytest.raises(WeightsError) as info:
        create_encoder(TINY, settings, weights=file)

    error = info.value
    assert type(error) is WeightsError
    assert str(file) in error.what and says.lower() in str(error).lower(), str(error)
    assert error.fix, "the message says what to do"
    assert not marker.exists(), "the payload ran"


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("[1, 2, 3]", "not a JSON object"),
        ("{not json", "not readable JSON"),
        (json.dumps({"model_type": "bert"}), "describes a 'bert' model"),
        (json.dumps({"model_type": "vit", "hidden_size": "wide"}), "not a valid ViTConfig"),
    ],
    ids=["list", "not-json", "other-model", "bad-value"],
)
def test_refused_transformers_configs(config: str, says: str, tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "phikon"
    folder.mkdir()
    save_file({"embeddings.cls_token": torch.zeros(1, 1, 768)}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(config)
    with pytest.raises(WeightsError, match=says) as info:
        create_encoder("phikon", settings, weights=folder)
    assert info.value.fix


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"architecture": 3}, "not a timm model config"),
        ({"model_args": [1]}, "not a timm model config"),
        ({"pretrained_cfg": {"mean": [0.5, 0.5]}}, "does not describe a usable"),
    ],
    ids=["architecture", "model_args", "mean"],
)
def test_refused_timm_hub_configs(config: dict, says: str, settings: Settings) -> None:
    spec = small_variant(get_spec("h0-mini"))
    folder = settings.weights_root / spec.name
    write_published(spec, folder)
    (folder / "config.json").write_text(json.dumps({**to_jsonable(spec.hf_config), **config}))
    with pytest.raises(WeightsError, match=says) as info:
        create_encoder(spec, settings)
    assert info.value.fix


def test_the_same_file_well_formed_loads(tmp_path: Path, settings: Settings) -> None:
    """The control: the refusals above are about the files, not the loader."""
    for name, data in (("tiny.pth", _torch_bytes(tiny_state_dict())), ("tiny.safetensors", _safetensors_bytes())):
        (tmp_path / name).write_bytes(data)
        encoder = create_encoder(dataclasses.replace(TINY), settings, weights=tmp_path / name)
        assert encoder(torch.zeros(1, 32, 32, 3, dtype=torch.uint8)).shape == (1, 384)
