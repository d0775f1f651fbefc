"""No-weight baselines, preprocessing inside the encoder, and the Encoder contract."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from mitoviz.config import Settings
from mitoviz.encoders import create_encoder, encoder_key, get_spec, list_encoders
from mitoviz.encoders.handcrafted import HandcraftedFeatures
from mitoviz.encoders.preprocess import Preprocess
from mitoviz.errors import SpecError

S = 128


def _cell(radius_x: float, radius_y: float | None = None, dx: float = 0.0, size: int = S) -> torch.Tensor:
    """Pink background with a dark purple ellipse (a stained nucleus), uint8 [H, W, 3]."""
    radius_y = radius_x if radius_y is None else radius_y
    yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    inside = ((xx - size / 2 - dx) / radius_x) ** 2 + ((yy - size / 2) / radius_y) ** 2 <= 1
    img = torch.empty(size, size, 3)
    img[:] = torch.tensor([235.0, 190.0, 215.0])
    img[inside] = torch.tensor([70.0, 40.0, 120.0])
    return img.to(torch.uint8)


@pytest.fixture(scope="module")
def handcrafted() -> HandcraftedFeatures:
    return HandcraftedFeatures(S)


def _named(module: HandcraftedFeatures, patches: torch.Tensor) -> list[dict[str, float]]:
    x = patches.permute(0, 3, 1, 2).float() / 255
    out = module(x)
    return [dict(zip(module.feature_names(), row.tolist(), strict=True)) for row in out]


def test_handcrafted_shape_features_follow_the_blob(handcrafted: HandcraftedFeatures) -> None:
    small, large, ellipse, shifted = _named(
        handcrafted,
        torch.stack(
            [
                _cell(10),
                _cell(20),
                _cell(24, 8),
                _cell(10, dx=15),
            ]
        ),
    )
    assert large["blob_area"] > 3 * small["blob_area"]
    assert large["blob_area"] == pytest.approx(math.pi * 20**2 / S**2, rel=0.15)
    assert large["blob_major"] == pytest.approx(40 / S, rel=0.1)
    assert small["blob_eccentricity"] < 0.3 < 0.8 < ellipse["blob_eccentricity"]
    assert ellipse["blob_major"] > 2 * ellipse["blob_minor"]
    assert shifted["blob_offset"] == pytest.approx(15 / S, abs=0.02) and small["blob_offset"] < 0.01
    assert small["blob_circularity"] > ellipse["blob_circularity"]
    assert large["h_contrast"] > 0 and large["brightness_contrast"] < 0
    assert large["h_radial_0"] > large["h_radial_4"]


def test_handcrafted_is_batch_independent_and_finite_on_blank_patches(
    handcrafted: HandcraftedFeatures,
) -> None:
    g = torch.Generator().manual_seed(0)
    batch = torch.stack(
        [
            _cell(12),
            torch.full((S, S, 3), 255, dtype=torch.uint8),
            torch.zeros(S, S, 3, dtype=torch.uint8),
            torch.randint(0, 256, (S, S, 3), dtype=torch.uint8, generator=g),
        ]
    )
    x = batch.permute(0, 3, 1, 2).float() / 255
    together = handcrafted(x)
    alone = torch.cat([handcrafted(x[i : i + 1]) for i in range(len(x))])
    assert torch.isfinite(together).all()
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
    assert len(set(handcrafted.feature_names())) == handcrafted.dim == get_spec("handcrafted").dim


def test_handcrafted_encoder_accepts_any_patch_size(settings: Settings) -> None:
    encoder = create_encoder("handcrafted", settings)
    big = _cell(40, size=256)[None]
    small = _cell(20, size=128)[None]
    a, b = encoder(big), encoder(small)
    names = encoder.backbone.feature_names()
    area = names.index("blob_area")
    assert a.shape == (1, encoder.dim)
    assert a[0, area] == pytest.approx(b[0, area].item(), rel=0.1)  # same cell at two resolutions


@pytest.mark.parametrize("name", [s.name for s in list_encoders(family="random baseline")])
def test_random_baselines_are_deterministic_and_labelled(name: str, settings: Settings) -> None:
    spec = get_spec(name)
    assert "random" in spec.title.lower() and "untrained" in spec.title.lower()
    assert spec.family == "random baseline" and not spec.needs_weights
    one = create_encoder(spec, settings)
    torch.manual_seed(123)
    expected_next = torch.randn(3)
    torch.manual_seed(123)
    two = create_encoder(spec, settings)
    assert torch.equal(torch.randn(3), expected_next), "building must not disturb the global RNG"
    patches = torch.randint(0, 256, (1, 224, 224, 3), dtype=torch.uint8)
    torch.testing.assert_close(one(patches), two(patches), rtol=0, atol=0)
    assert one.weights_digest.startswith("random-init:seed0")
    assert encoder_key(one) == encoder_key(two)
    count = sum(p.numel() for p in one.parameters()) / 1e6  # the full-size model, built for real
    assert count == pytest.approx(spec.params_m, abs=0.006)


# ---- preprocessing --------------------------------------------------------------------------------


def test_preprocess_is_plain_normalisation_at_native_size() -> None:
    spec = get_spec("uni")
    patches = torch.randint(0, 256, (2, 224, 224, 3), dtype=torch.uint8)
    out = Preprocess(spec)(patches)
    x = patches.permute(0, 3, 1, 2).float() / 255
    expected = (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)


_MODES = {
    "bicubic": TF.InterpolationMode.BICUBIC,
    "bilinear": TF.InterpolationMode.BILINEAR,
    "nearest": TF.InterpolationMode.NEAREST,
}


def _preprocessings() -> dict[str, str]:
    """One encoder per distinct preprocessing in the registry (resize, crop, interpolation, statistics)."""
    seen: dict[tuple, str] = {}
    for spec in list_encoders():
        seen.setdefault((spec.resize, spec.input_size, spec.interpolation, spec.mean, spec.std), spec.name)
    return {name: name for name in seen.values()}


@pytest.mark.parametrize("size", [128, 300])
@pytest.mark.parametrize("name", list(_preprocessings()))
def test_preprocess_matches_torchvision_resize_and_centre_crop(name: str, size: int) -> None:
    spec = get_spec(name)
    mode = _MODES[spec.interpolation]
    patches = torch.randint(
        0, 256, (2, size, size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)
    )
    x = patches.permute(0, 3, 1, 2).float() / 255
    x = TF.resize(x, [spec.resize or spec.input_size], interpolation=mode, antialias=True)
    x = TF.center_crop(x, [spec.input_size, spec.input_size])
    expected = TF.normalize(x, list(spec.mean), list(spec.std))
    out = Preprocess(spec)(patches)
    assert out.shape == (2, 3, spec.input_size, spec.input_size)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_gigapath_resizes_to_256_then_crops_the_centre() -> None:
    spec = get_spec("prov-gigapath")
    assert (spec.resize, spec.input_size, spec.interpolation) == (256, 224, "bicubic")
    patch = torch.zeros(1, 224, 224, 3, dtype=torch.uint8)
    patch[:, :8] = 255  # a white band at the top is cropped away after the 256 resize
    out = Preprocess(spec)(patch)
    black = (0 - spec.mean[0]) / spec.std[0]
    assert out[0, 0, 0, 112].item() == pytest.approx(black, abs=0.05)


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(2, 64, 64, 3),
        torch.zeros(2, 3, 64, 64, dtype=torch.uint8),
        torch.zeros(64, 64, 3, dtype=torch.uint8),
    ],
    ids=["float", "channels-first", "no-batch"],
)
def test_encoder_rejects_patches_that_are_not_uint8_bhwc(bad: torch.Tensor, settings: Settings) -> None:
    encoder = create_encoder("handcrafted", settings)
    with pytest.raises(SpecError, match=r"uint8 RGB patches \[B, H, W, 3\]"):
        encoder(bad)


def test_encoder_contract(settings: Settings) -> None:
    encoder = create_encoder("random-resnet50", settings)
    assert not encoder.training
    encoder.train()
    assert not encoder.training and not any(m.training for m in encoder.modules())
    assert encoder.channels_last and encoder.device == torch.device("cpu")
    assert encoder(torch.zeros(0, 224, 224, 3, dtype=torch.uint8)).shape == (0, 2048)
    with pytest.raises(SpecError, match="needs no weights"):
        create_encoder("random-resnet50", settings, weights=settings.home / "x.pth")
