"""Finding weights, refusing unsafe files, strict loading, digests and the status listing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from mitoviz.config import Settings
from mitoviz.encoders import create_encoder, encoder_key, encoder_status, get_spec, list_encoders
from mitoviz.encoders import weights as weights_mod
from mitoviz.encoders.weights import (
    MissingWeights,
    fetch_weights,
    file_sha256,
    find_weights,
    locate,
    prepare_state_dict,
    read,
    read_checkpoint,
)
from mitoviz.errors import WeightsError
from tests.encoders.published import TINY, Payload, tiny_state_dict

# ---- safety ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["torch.save", "plain pickle"])
def test_checkpoint_needing_code_is_refused_and_its_payload_never_runs(
    tmp_path: Path, settings: Settings, fmt: str
) -> None:
    marker = tmp_path / "payload-ran"
    file = tmp_path / "tiny.pth"
    if fmt == "torch.save":
        torch.save({**tiny_state_dict(), "evil": Payload(marker)}, file)
    else:  # legacy (non-zip) format; no tensors, whose plain pickles would be refused first
        file.write_bytes(pickle.dumps({"scale": [1.0, 2.0], "evil": Payload(marker)}, protocol=2))

    with pytest.raises(WeightsError, match="refused") as info:
        create_encoder(TINY, settings, weights=file)
    assert "it calls io.open" in str(info.value) and "safetensors" in info.value.fix
    assert not marker.exists()

    # the payload is real: an unsafe load would have run it
    if fmt == "torch.save":
        torch.load(file, weights_only=False)
    else:
        pickle.loads(file.read_bytes())
    assert marker.exists()


def test_safetensors_with_another_suffix_is_read_as_safetensors(tmp_path: Path) -> None:
    sd = tiny_state_dict()
    file = tmp_path / "weights.bin"
    save_file(sd, str(file))
    loaded = read_checkpoint(file)
    assert set(loaded) == set(sd)


def test_truncated_file_gives_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "tiny.pth"
    torch.save(tiny_state_dict(), file)
    file.write_bytes(file.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="cannot be read"):
        read_checkpoint(file)


# ---- strict loading -------------------------------------------------------------------------------


def test_mismatch_lists_missing_unexpected_and_misshapen_keys(tmp_path: Path, settings: Settings) -> None:
    sd = tiny_state_dict()
    del sd["cls_token"]
    sd["bogus.weight"] = torch.zeros(3)
    sd["pos_embed"] = torch.zeros(1, 50, 384)
    file = tmp_path / "tiny.pth"
    torch.save(sd, file)
    with pytest.raises(WeightsError) as info:
        create_encoder(TINY, settings, weights=file)
    message = str(info.value)
    assert "'tiny-vit'" in message and "vit_small_patch16_224" in message
    assert "cls_token" in message and "bogus.weight" in message
    assert "pos_embed: file (1, 50, 384) vs model (1, 197, 384)" in message
    assert "partially" in info.value.fix


def test_transformers_mismatch_lists_keys(tmp_path: Path, settings: Settings) -> None:
    import transformers

    config = transformers.ViTConfig(num_hidden_layers=1)
    model = transformers.ViTModel(config, add_pooling_layer=False)
    model.save_pretrained(tmp_path / "phikon")
    sd = read_checkpoint(tmp_path / "phikon" / "model.safetensors")
    del sd["embeddings.cls_token"]
    save_file(sd, str(tmp_path / "phikon" / "model.safetensors"))
    with pytest.raises(WeightsError, match=r"missing \(embeddings.cls_token\)"):
        create_encoder("phikon", settings, weights=tmp_path / "phikon")


@pytest.mark.parametrize(
    ("wrap", "spec_change"),
    [
        (lambda sd: {"model": sd, "epoch": 3}, {}),
        (lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}}, {}),
        (
            lambda sd: {
                "teacher": {f"module.backbone.{k}": v for k, v in sd.items()}
                | {"module.head.w": torch.zeros(1)},
                "student": {"module.backbone.cls_token": torch.zeros(1)},
            },
            {"wrapper_keys": ("teacher",), "keep_prefix": "backbone."},
        ),
        (
            lambda sd: sd | {"head.weight": torch.zeros(10, 384), "head.bias": torch.zeros(10)},
            {"drop_keys": ("head.*",)},
        ),
    ],
    ids=["model-wrapper", "state_dict-module-prefix", "dino-teacher-backbone", "dropped-head"],
)
def test_key_handling_per_spec(wrap, spec_change, tmp_path: Path, settings: Settings) -> None:
    sd = tiny_state_dict()
    spec = dataclasses.replace(TINY, **spec_change)
    out = prepare_state_dict(wrap(sd), spec, tmp_path / "x.pth")
    assert set(out) == set(sd)
    assert all(torch.equal(out[k], sd[k]) for k in sd)


def test_unknown_wrapper_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="top-level keys are net, epoch"):
        prepare_state_dict({"net": {"a": torch.zeros(1)}, "epoch": 1}, TINY, tmp_path / "x.pth")


# ---- search order ---------------------------------------------------------------------------------


def _put(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tiny_state_dict(), path)
    return path


def _hf_cache_file(cache: Path, repo: str, filename: str, content: bytes = b"x") -> Path:
    """A file laid out as huggingface_hub caches it (refs/main → snapshots/<commit>/file)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    file = root / "snapshots" / commit / filename
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(content)
    return file


def test_search_order(tmp_path: Path, settings: Settings, isolated_hf: Path) -> None:
    with pytest.raises(MissingWeights):
        find_weights(TINY, settings)

    cached = _hf_cache_file(isolated_hf, TINY.hf_repo, "tiny.safetensors")
    assert find_weights(TINY, settings).file == cached.resolve()
    assert find_weights(TINY, settings).source == "Hugging Face cache"

    in_folder = _put(settings.weights_root / "tiny-vit" / "tiny.pth")
    assert find_weights(TINY, settings).file == in_folder.resolve()
    assert find_weights(TINY, settings).source == "weights folder"

    configured = _put(tmp_path / "elsewhere" / "my-copy.pth")
    with_config = dataclasses.replace(settings, weight_files={"Tiny-ViT": str(configured)})
    assert find_weights(TINY, with_config).file == configured.resolve()

    given = _put(tmp_path / "given" / "tiny.pth")
    assert find_weights(TINY, with_config, explicit=given.parent).file == given.resolve()


def test_hibou_config_without_registers_is_refused_rather_than_running_remote_code(
    tmp_path: Path, settings: Settings
) -> None:
    import transformers

    folder = tmp_path / "hibou-b"
    model = transformers.Dinov2Model(transformers.Dinov2Config(num_hidden_layers=1, patch_size=14))
    model.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_dinov2.Dinov2Model"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="never does"):
        create_encoder("hibou-b", settings, weights=folder)


def test_listing_and_status_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from mitoviz.config import load_settings\n"
        "from mitoviz.encoders import encoder_status, list_encoders\n"
        "assert len(list_encoders()) > 30 and len(encoder_status(load_settings())) > 30\n"
        "heavy = [m for m in ('torch', 'timm', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "MITOVIZ_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_configured_path_that_does_not_exist_is_an_error_not_a_fallback(
    tmp_path: Path, settings: Settings
) -> None:
    _put(settings.weights_root / "tiny-vit" / "tiny.pth")
    broken = dataclasses.replace(settings, weight_files={"tiny-vit": str(tmp_path / "gone.pth")})
    with pytest.raises(WeightsError, match=r"gone\.pth") as info:
        find_weights(TINY, broken)
    assert not isinstance(info.value, MissingWeights)


def test_transformers_weights_need_config_json(tmp_path: Path, settings: Settings) -> None:
    file = tmp_path / "phikon" / "model.safetensors"
    file.parent.mkdir()
    save_file({"a": torch.zeros(1)}, str(file))
    with pytest.raises(WeightsError, match=r"config\.json"):
        find_weights(get_spec("phikon"), settings, explicit=file)


def test_no_download_unless_allowed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(locate, "download_file", no_network)
    downloadable = [s for s in list_encoders() if s.download_url or s.hf_repo]
    for spec in downloadable:
        with pytest.raises(MissingWeights, match="MITOVIZ_ALLOW_DOWNLOAD"):
            fetch_weights(spec, settings)
    allowed = dataclasses.replace(settings, allow_download=True)
    for spec in (s for s in downloadable if s.hf_repo):
        with pytest.raises(MissingWeights, match="HF_HUB_OFFLINE"):
            fetch_weights(spec, allowed)  # the conftest sets HF_HUB_OFFLINE=1


def test_allowed_download_lands_in_the_weights_folder_and_loads(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = get_spec("kaiko-vits16").with_kwargs(depth=1)
    calls = []

    def fake_download(url: str, target: Path) -> None:
        calls.append(url)
        model = timm.create_model(spec.arch, **spec.kwargs)
        _ = target.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), target)

    monkeypatch.setattr(locate, "download_file", fake_download)
    encoder = create_encoder(spec, dataclasses.replace(settings, allow_download=True))
    assert calls == [spec.download_url]
    assert encoder.weights_path == (settings.weights_root / "kaiko-vits16" / "vits16.pth").resolve()


# ---- digests and cache keys -----------------------------------------------------------------------


def test_sha256_is_cached_by_path_size_and_mtime(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "w.bin"
    file.write_bytes(b"abc" * 1000)
    expected = hashlib.sha256(file.read_bytes()).hexdigest()
    assert file_sha256(file, settings) == expected
    assert (settings.cache_dir / weights_mod.DIGEST_CACHE).is_file()

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("hashed again")

    monkeypatch.setattr(hashlib, "file_digest", fail)
    assert file_sha256(file, settings) == expected
    monkeypatch.undo()

    file.write_bytes(b"abcd" * 1000)
    assert file_sha256(file, settings) == hashlib.sha256(b"abcd" * 1000).hexdigest()


def test_encoder_key_changes_with_weights_and_preprocessing(tmp_path: Path, settings: Settings) -> None:
    a, b = _put(tmp_path / "a" / "tiny.pth"), tmp_path / "b" / "tiny.pth"
    b.parent.mkdir()
    torch.save({k: v + 1 for k, v in tiny_state_dict().items()}, b)
    key_a = encoder_key(create_encoder(TINY, settings, weights=a))
    key_b = encoder_key(create_encoder(TINY, settings, weights=b))
    key_c = encoder_key(
        create_encoder(dataclasses.replace(TINY, interpolation="bicubic"), settings, weights=a)
    )
    assert key_a["weights"] != key_b["weights"]
    assert {k: v for k, v in key_a.items() if k != "weights"} == {
        k: v for k, v in key_b.items() if k != "weights"
    }
    assert key_a["weights"] == key_c["weights"] and key_a != key_c


# ---- status ---------------------------------------------------------------------------------------


def _by_name(settings: Settings) -> dict[str, object]:
    return {s.name: s for s in encoder_status(settings)}


def test_status_without_any_weights(settings: Settings) -> None:
    status = _by_name(settings)
    assert set(status) == {s.name for s in list_encoders()}
    for spec in list_encoders():
        s = status[spec.name]
        assert (s.name, s.title, s.family, s.dim, s.params_m) == (
            spec.name,
            spec.title,
            spec.family,
            spec.dim,
            spec.params_m,
        )
        if spec.needs_weights:
            assert not s.available and s.reason and s.how_to_get and s.location is None
        else:
            assert s.available and s.location == "built in"
    uni = status["uni"]
    assert "https://huggingface.co/MahmoodLab/UNI" in uni.how_to_get and "gated" in uni.how_to_get
    assert "CC-BY-NC-ND" in uni.how_to_get and uni.gated
    assert "MITOVIZ_ALLOW_DOWNLOAD" in status["kaiko-vits16"].how_to_get
    assert "github.com/Xiyue-Wang/TransPath" in status["ctranspath"].how_to_get
    assert status["handcrafted"].to_dict()["available"] is True


def test_status_finds_weights_folder_and_prefers_configured_path(tmp_path: Path, settings: Settings) -> None:
    folder_file = settings.weights_root / "uni" / "pytorch_model.bin"
    folder_file.parent.mkdir(parents=True)
    folder_file.write_bytes(b"not read by the status")
    s = _by_name(settings)["uni"]
    assert s.available and s.source == "weights folder" and s.location == str(folder_file.resolve())

    configured = tmp_path / "my-uni.bin"
    configured.write_bytes(b"x")
    s = _by_name(dataclasses.replace(settings, weight_files={"uni": str(configured)}))["uni"]
    assert s.available and s.location == str(configured.resolve())

    s = _by_name(dataclasses.replace(settings, weight_files={"uni": str(tmp_path / "missing.bin")}))["uni"]
    assert not s.available and "missing.bin" in s.reason


def test_status_sees_the_hf_cache(settings: Settings, isolated_hf: Path) -> None:
    _hf_cache_file(isolated_hf, "owkin/phikon", "model.safetensors")
    assert not _by_name(settings)["phikon"].available  # transformers weights without config.json
    _hf_cache_file(isolated_hf, "owkin/phikon", "config.json", b"{}")
    s = _by_name(settings)["phikon"]
    assert s.available and s.source == "Hugging Face cache"


def test_status_is_cheap(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [s.name for s in list_encoders() if s.needs_weights]
    for name in names:
        file = settings.weights_root / name / get_spec(name).weight_files[0]
        file.parent.mkdir(parents=True)
        file.write_bytes(b"\x00" * 1024)
        (file.parent / "config.json").write_text("{}")  # transformers and hub-config encoders need one

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("status must not load or hash")

    monkeypatch.setattr(hashlib, "file_digest", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(timm, "create_model", forbidden)
    monkeypatch.setattr(read, "read_checkpoint", forbidden)
    start = time.perf_counter()
    status = _by_name(settings)
    assert time.perf_counter() - start < 2.0
    assert all(status[n].available for n in names)
