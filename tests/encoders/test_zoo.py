"""Every registered encoder: the architecture builds, a random checkpoint written in the *published*
file layout loads through the real loader strictly, and the embedding has the spec's dimension."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch

from mitoviz.config import Settings
from mitoviz.encoders import create_encoder, get_spec, list_encoders
from mitoviz.encoders.builders import BUILDERS
from mitoviz.encoders.encoder import Encoder
from mitoviz.encoders.spec import to_jsonable
from tests.encoders.published import reference, small_variant, write_published

ALL = [s.name for s in list_encoders()]


@pytest.mark.parametrize("name", ALL)
def test_registry_entry_builds_loads_and_embeds(name: str, settings: Settings) -> None:
    spec = small_variant(get_spec(name))
    expected, skip = (
        write_published(spec, settings.weights_root / spec.name) if spec.needs_weights else (None, set())
    )

    encoder = create_encoder(spec, settings)
    patches = torch.randint(
        0, 256, (1, 96, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    out = encoder(patches)

    assert out.shape == (1, spec.dim) and encoder.dim == spec.dim
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert not encoder.training
    if expected is None:
        assert encoder.weights_path is None and encoder.weights_digest
        return
    assert encoder.weights_path.parent == (settings.weights_root / spec.name).resolve()
    assert len(encoder.weights_digest) == 64
    loaded = getattr(encoder.backbone, "model", encoder.backbone).state_dict()  # a tower is its own backbone
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        if key in skip:
            assert loaded[key].shape[-1] == value.shape[-1]
        else:  # exact, except where a converter added and subtracted (Kaiko's cls_token)
            assert torch.equal(loaded[key], value) or torch.allclose(loaded[key], value, rtol=0, atol=1e-6), (
                key
            )
    if spec.arch == "Dinov2WithRegistersModel":
        assert not (settings.weights_root / spec.name / "REMOTE_CODE_RAN").exists()


def _published_pooling(name: str) -> tuple[int, Any]:
    """(prefix tokens, pooling) as the model cards and reference code publish them, written out by hand."""

    def cls(t: torch.Tensor) -> torch.Tensor:
        return t[:, 0]

    def cls_mean_from(start: int) -> Any:
        return lambda t: torch.cat([t[:, 0], t[:, start:].mean(1)], dim=-1)

    table: dict[str, tuple[int, Any]] = {
        "uni": (1, cls),
        "uni2-h": (9, cls),
        "prov-gigapath": (1, cls),
        "virchow": (1, cls_mean_from(1)),
        "virchow2": (5, cls_mean_from(5)),
        "h-optimus-0": (5, cls),
        "h-optimus-1": (5, cls),
        "phikon": (1, cls),
        "phikon-v2": (1, cls),
        "hibou-b": (5, cls),
        "hibou-l": (5, cls),
        "kaiko-vits16": (1, cls),
        "kaiko-vits8": (1, cls),
        "kaiko-vitb16": (1, cls),
        "kaiko-vitb8": (1, cls),
        "kaiko-vitl14": (5, cls),
        "lunit-vits16-dino": (1, cls),
        "lunit-vits8-dino": (1, cls),
        "dinov2-vits14": (1, cls),
        "dinov2-vitb14": (1, cls),
        "dinov2-vitl14": (1, cls),
        "dinov2-vitg14": (1, cls),
        "xcit-dino-bm": (1, cls),
        "xcit-dino-endo": (1, cls),
        "xcit-dino-isic": (1, cls),
        "random-vits16": (1, cls),
        "ctranspath": (0, lambda t: t.mean(1)),
        # 2025 encoders (shared/reference/encoders_new.md)
        "midnight-12k": (1, cls_mean_from(1)),
        "h0-mini": (5, cls),
        "gpfm": (1, cls),
        "openmidnight": (5, cls),
        "openmidnight-1.1": (0, cls),  # prefix tokens from its config.json; CLS is token 0 either way
    }
    for cnn in (
        "lunit-rn50-bt",
        "lunit-rn50-mocov2",
        "lunit-rn50-swav",
        "resnet50-imagenet",
        "resnet50-imagenet-layer3",
        "random-resnet50",
    ):
        table[cnn] = (0, lambda m: m.mean((2, 3)))
    table["handcrafted"] = (0, lambda v: v)
    table["conch-v1.5"] = (0, lambda v: v)  # the tower returns the pooled vector (tested in test_new_encoders)
    return table[name]


@pytest.mark.parametrize("name", ALL)
def test_pooling_rule_is_the_published_one(name: str) -> None:
    spec = get_spec(name)
    prefix, published = _published_pooling(name)
    g = torch.Generator().manual_seed(1)
    if spec.pooling in ("gap",):
        features = torch.randn(2, 8, 7, 7, generator=g)
    elif spec.pooling in ("none", "head"):
        features = torch.randn(2, 8, generator=g)
    else:
        width = 1280 if name.startswith("virchow") else 8
        features = torch.randn(2, prefix + 256, width, generator=g)
    encoder = Encoder(
        spec,
        torch.nn.Identity(),
        dim=spec.dim or 0,
        num_prefix_tokens=spec.prefix_tokens or 0,
        weights_digest="test",
        weights_path=None,
    )
    assert (spec.prefix_tokens or 0) == prefix
    torch.testing.assert_close(encoder.pool(features), published(features), rtol=0, atol=0)


def test_virchow2_embedding_skips_the_four_registers(settings: Settings) -> None:
    spec = small_variant(get_spec("virchow2"))
    write_published(spec, settings.weights_root / spec.name)
    encoder = create_encoder(spec, settings)
    patches = torch.randint(0, 256, (2, 224, 224, 3), dtype=torch.uint8)
    with torch.inference_mode():
        tokens = encoder.backbone.model.forward_features(encoder.preprocess(patches))
    assert tokens.shape == (2, 261, 1280)
    expected = torch.cat([tokens[:, 0], tokens[:, 5:].mean(1)], dim=-1)
    torch.testing.assert_close(encoder(patches), expected)


def _groups(specs: list, key: Any) -> dict[str, list[str]]:
    """Spec names grouped by ``key(spec)`` (a check runs once per group), keyed by the joined names."""
    groups: dict[str, list[str]] = {}
    for s in specs:
        groups.setdefault(json.dumps(key(s), sort_keys=True, default=str), []).append(s.name)
    return {"+".join(names): names for names in groups.values()}


def _cls_timm() -> dict[str, list[str]]:
    """timm encoders pooled by their CLS token, grouped by architecture."""
    specs = [s for s in list_encoders() if s.library == "timm" and s.pooling == "cls" and not s.tower]
    return _groups(specs, lambda s: [s.arch, to_jsonable(reference(s).kwargs)])


@pytest.mark.parametrize("names", list(_cls_timm().values()), ids=list(_cls_timm()))
def test_cls_pooling_equals_timm_pooled_output(names: list[str]) -> None:
    """For token-pooled timm models, tokens[:, 0] is exactly what ``model(x)`` returns (the cards' usage)."""
    spec = small_variant(reference(get_spec(names[0])))
    backbone, width, prefix = BUILDERS["timm"](spec, None)
    encoder = Encoder(
        spec, backbone, dim=width, num_prefix_tokens=prefix, weights_digest="test", weights_path=None
    )
    patches = torch.randint(0, 256, (2, 224, 224, 3), dtype=torch.uint8)
    with torch.inference_mode():
        reference_out = backbone.model(encoder.preprocess(patches))
    torch.testing.assert_close(encoder(patches), reference_out)


def _architectures() -> dict[str, list[str]]:
    """Specs that build the same architecture, grouped (the count is checked once per group)."""
    specs = [s for s in list_encoders() if s.library in ("timm", "torchvision") and s.params_m]
    return _groups(specs, lambda s: [s.library, s.arch, to_jsonable(reference(s).kwargs), s.tower, s.params_m])


@pytest.mark.parametrize("names", list(_architectures().values()), ids=list(_architectures()))
def test_full_architecture_parameter_count_matches_spec(names: list[str]) -> None:
    """The full-size architecture (built on the meta device: no memory) has spec.params_m parameters."""
    spec = reference(get_spec(names[0]))
    with torch.device("meta"):
        backbone, _, _ = BUILDERS[spec.library](spec, None)
    count = sum(p.numel() for p in backbone.parameters()) / 1e6
    assert count == pytest.approx(spec.params_m, abs=0.006)
