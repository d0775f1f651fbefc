"""The registry, spec validation, fingerprints, and custom encoders from the settings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from mitoviz.config import Settings, load_settings
from mitoviz.encoders import (
    create_encoder,
    encoder_status,
    get_spec,
    list_encoders,
    register,
    specs_from_settings,
)
from mitoviz.errors import SpecError

EXPECTED = {
    "uni",
    "uni2-h",
    "virchow",
    "virchow2",
    "prov-gigapath",
    "h-optimus-0",
    "h-optimus-1",
    "phikon",
    "phikon-v2",
    "hibou-b",
    "hibou-l",
    "kaiko-vits16",
    "kaiko-vits8",
    "kaiko-vitb16",
    "kaiko-vitb8",
    "kaiko-vitl14",
    "lunit-rn50-bt",
    "lunit-rn50-mocov2",
    "lunit-rn50-swav",
    "lunit-vits16-dino",
    "lunit-vits8-dino",
    "dinov2-vits14",
    "dinov2-vitb14",
    "dinov2-vitl14",
    "dinov2-vitg14",
    "resnet50-imagenet",
    "resnet50-imagenet-layer3",
    "xcit-dino-bm",
    "xcit-dino-endo",
    "xcit-dino-isic",
    "ctranspath",
    "random-vits16",
    "random-resnet50",
    "handcrafted",
    # shared/reference/encoders_new.md
    "midnight-12k",
    "h0-mini",
    "gpfm",
    "openmidnight",
    "openmidnight-1.1",
    "conch-v1.5",
}


def test_registry_holds_every_model_of_the_reference() -> None:
    """The reference's models, by name: a fact list, not a parameter list (tests parametrise over the registry)."""
    names = [s.name for s in list_encoders()]
    assert set(names) == EXPECTED and len(names) == len(set(names))
    assert {s.family for s in list_encoders(family="random baseline")} == {"random baseline"}
    assert next(iter(list_encoders())).family == "pathology foundation model"


def test_get_spec_is_case_insensitive_and_suggests_close_names() -> None:
    assert get_spec("Virchow2").name == "virchow2"
    with pytest.raises(SpecError, match=r"Did you mean .*virchow2"):
        get_spec("virchow3")


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(SpecError, match="already registered"):
        register(get_spec("uni"))


def test_fingerprint_is_json_and_covers_what_changes_the_embedding() -> None:
    spec = get_spec("virchow2")
    fp = spec.fingerprint()
    assert json.loads(json.dumps(fp)) == fp
    for change in (
        {"pooling": "cls"},
        {"interpolation": "bilinear"},
        {"resize": 256},
        {"mean": (0.5, 0.5, 0.5)},
        {"prefix_tokens": 1},
        {"drop_keys": ("x",)},
    ):
        assert dataclasses.replace(spec, **change).fingerprint() != fp, change
    assert spec.with_kwargs(depth=1).fingerprint() != fp
    assert dataclasses.replace(spec, title="other", notes="n", licence="l").fingerprint() == fp


def test_spec_is_immutable_and_kwargs_serialise() -> None:
    spec = get_spec("uni2-h")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.dim = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.kwargs["depth"] = 1  # type: ignore[index]
    assert spec.fingerprint()["kwargs"]["mlp_layer"] == "SwiGLUPacked"
    assert hash(spec) == hash(get_spec("uni2-h"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Bad Name"}, "lower case"),
        ({"pooling": "max"}, "pooling must be"),
        ({"interpolation": "lanczos"}, "interpolation"),
        ({"resize": 100}, "resize must be at least"),
        ({"std": (0.2, 0.0, 0.2)}, "std values"),
        ({"prefix_tokens": 0}, "CLS pooling needs"),
        ({"weight_files": ()}, "name its weight files"),
        ({"kwargs": {"act_layer": torch.nn.SiLU}}, "cannot go into an encoder spec"),
        ({"family": "misc"}, "family"),
    ],
)
def test_invalid_specs_are_refused(change: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        dataclasses.replace(get_spec("uni"), **change)


def test_spec_dim_is_checked_against_the_architecture(settings: Settings) -> None:
    small = get_spec("random-vits16").with_kwargs(depth=1)
    with pytest.raises(SpecError, match="dim 512 but the architecture gives 384"):
        create_encoder(dataclasses.replace(small, dim=512), settings)
    wrong_prefix = dataclasses.replace(small, prefix_tokens=5)
    with pytest.raises(SpecError, match="5 prefix tokens but the model has 1"):
        create_encoder(wrong_prefix, settings)


# ---- custom encoders ------------------------------------------------------------------------------


def _with_custom(settings: Settings, *entries: dict) -> Settings:
    return dataclasses.replace(settings, custom_encoders=tuple(entries))


def test_custom_encoder_from_config_toml_builds_and_loads(mitoviz_home: Path) -> None:
    model = timm.create_model("vit_small_patch16_224", num_classes=0, depth=2)
    sd = {f"module.{k}": v for k, v in model.state_dict().items()}
    (mitoviz_home / "weights" / "mine").mkdir(parents=True)
    save_file(sd, str(mitoviz_home / "weights" / "mine" / "vit.safetensors"))
    (mitoviz_home / "config.toml").write_text(
        '[[encoders]]\nname = "My-ViT"\narch = "vit_small_patch16_224"\ncheckpoint = "mine/vit.safetensors"\n'
        'pooling = "cls+patch_mean"\nmean = [0.7, 0.6, 0.7]\nstd = [0.2, 0.2, 0.2]\n[encoders.kwargs]\ndepth = 2\n'
    )
    settings = load_settings()
    (spec,) = specs_from_settings(settings)
    assert spec.name == "my-vit" and spec.family == "custom" and spec.dim is None
    assert spec.input_size == 224 and spec.interpolation == "bicubic"  # timm's default config for the arch
    assert get_spec("my-vit", settings) == spec

    encoder = create_encoder("my-vit", settings)
    out = encoder(torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8))
    assert encoder.dim == 768 and out.shape == (2, 768)
    torch.testing.assert_close(encoder.backbone.model.cls_token, model.cls_token)

    status = {s.name: s for s in encoder_status(settings)}["my-vit"]
    assert status.available and status.source.startswith("config.toml")


def test_custom_encoder_with_head_pooling_and_given_dim(tmp_path: Path, settings: Settings) -> None:
    model = timm.create_model("resnet18", num_classes=0)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "r18.pth")
    settings = _with_custom(
        settings,
        {"name": "r18", "arch": "resnet18.a1_in1k", "checkpoint": str(tmp_path / "r18.pth"), "dim": 512},
    )
    encoder = create_encoder("r18", settings)
    assert encoder(torch.zeros(1, 100, 120, 3, dtype=torch.uint8)).shape == (1, 512)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"arch": "vit_small_patch16_224", "checkpoint": "x.pth"}, "'name' is missing"),
        ({"name": "a", "arch": "not_a_model_xyz", "checkpoint": "x.pth"}, "not a timm architecture"),
        ({"name": "a", "arch": "resnet18", "checkpoint": "x.pth", "colour": 1}, "unknown key"),
        ({"name": "a", "arch": "resnet18", "checkpoint": "x.pth", "mean": [0.5, 0.5]}, "three numbers"),
        ({"name": "a", "arch": "resnet18", "checkpoint": "x.pth", "dim": "big"}, "'dim' must be int"),
        (
            {"name": "a", "arch": "resnet18", "checkpoint": "x.pth", "pooling": "max"},
            "pooling 'max' is unknown",
        ),
        ({"name": "uni", "arch": "resnet18", "checkpoint": "x.pth"}, "taken by a built-in"),
        ({"name": "a b", "arch": "resnet18", "checkpoint": "x.pth"}, "lower case"),
    ],
)
def test_bad_custom_entries_give_clear_errors(entry: dict, message: str, settings: Settings) -> None:
    with pytest.raises(SpecError, match=message):
        specs_from_settings(_with_custom(settings, entry))


def test_bad_custom_entry_shows_in_status_without_hiding_others(settings: Settings) -> None:
    good = {"name": "ok", "arch": "resnet18", "checkpoint": "ok.pth"}
    bad = {"name": "broken", "arch": "nope_nope", "checkpoint": "x.pth"}
    statuses = encoder_status(_with_custom(settings, good, bad, dict(good)))
    ok, broken, duplicate = statuses[-3:]
    assert ok.name == "ok" and not ok.available and "ok.pth" in ok.reason and ok.family == "custom"
    assert broken.name == "broken" and not broken.available and "not a timm architecture" in broken.reason
    assert duplicate.name == "ok" and "Two custom encoders" in duplicate.reason
    assert "uni" in {s.name for s in statuses}
    with pytest.raises(SpecError, match="Two custom encoders"):
        specs_from_settings(_with_custom(settings, good, dict(good)))


def test_custom_kwargs_errors_surface_at_build(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "x.pth").write_bytes(b"")
    settings = _with_custom(
        settings,
        {
            "name": "odd",
            "arch": "resnet18",
            "checkpoint": str(tmp_path / "x.pth"),
            "kwargs": {"mlp_layer": "Transformer"},
        },
    )
    with pytest.raises(SpecError, match="not a known layer"):
        create_encoder("odd", settings)
