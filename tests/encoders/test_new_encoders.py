"""What the 2025 encoders need beyond the registry-wide checks of test_zoo.py: CONCH v1.5's attention pool
written out by hand, GPFM's two published layouts, and the timm config.json that H0-mini and
OpenMidnight-1.1 are built from (facts: shared/reference/encoders_new.md)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mitoviz.config import Settings
from mitoviz.encoders import cache_identity, create_encoder, encoder_key, get_spec
from mitoviz.encoders.spec import to_jsonable
from mitoviz.errors import SpecError, WeightsError
from tests.encoders.published import meta_timm, randomized, small_variant, to_dinov2_teacher, write_published


def _attention_pool_by_hand(tower: torch.nn.Module, tokens: torch.Tensor, heads: int) -> torch.Tensor:
    """open_clip's AttentionalPooler with one query, then ln_contrast, as plain tensor algebra."""
    pool, attn = tower.attn_pool_contrast, tower.attn_pool_contrast.attn
    d = attn.embed_dim
    q = torch.nn.functional.layer_norm(pool.query, (d,), pool.ln_q.weight, pool.ln_q.bias)
    ctx = torch.nn.functional.layer_norm(tokens, (tokens.shape[-1],), pool.ln_k.weight, pool.ln_k.bias)
    bq, bk, bv = attn.in_proj_bias.chunk(3)
    q = q @ attn.q_proj_weight.T + bq  # [1, d]
    k = ctx @ attn.k_proj_weight.T + bk  # [B, N, d]
    v = ctx @ attn.v_proj_weight.T + bv
    hd = d // heads
    q = q.view(1, heads, hd).transpose(0, 1)  # [h, 1, hd]
    k = k.view(k.shape[0], -1, heads, hd).permute(0, 2, 1, 3)  # [B, h, N, hd]
    v = v.view(v.shape[0], -1, heads, hd).permute(0, 2, 1, 3)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)  # [B, h, 1, N]
    pooled = (weights @ v).permute(0, 2, 1, 3).reshape(-1, d)  # [B, d]
    pooled = pooled @ attn.out_proj.weight.T + attn.out_proj.bias
    return torch.nn.functional.layer_norm(pooled, (d,), tower.ln_contrast.weight, tower.ln_contrast.bias)


def test_conch_v15_is_the_attention_pooled_contrastive_token(settings: Settings) -> None:
    spec = small_variant(get_spec("conch-v1.5"))
    write_published(spec, settings.weights_root / spec.name)
    encoder = create_encoder(spec, settings)
    tower = encoder.backbone
    assert {n.split(".")[0] for n, _ in tower.named_parameters()} == {"trunk", "attn_pool_contrast", "ln_contrast"}
    patches = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        x = encoder.preprocess(patches)
        assert x.shape[-1] == 448
        expected = _attention_pool_by_hand(tower, tower.trunk.forward_features(x), heads=8)
    out = encoder(patches)
    assert out.shape == (2, 768) and tower.trunk.num_features == 1024
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(SpecError, match=r"cannot give features from single blocks: .*attention pool"):
        create_encoder(spec, settings, layers=[1])


def test_conch_v15_position_embedding_is_resampled_to_448(settings: Settings) -> None:
    """A file whose trunk.pos_embed is on another grid (224 px: 14×14) loads, resampled as TRIDENT does."""
    spec = small_variant(get_spec("conch-v1.5"))
    sd = randomized(meta_timm(spec).state_dict(), seed=3)
    sd["trunk.pos_embed"] = torch.randn(1, 1 + 14 * 14, 1024)
    folder = settings.weights_root / spec.name
    folder.mkdir(parents=True)
    torch.save(sd, folder / spec.weight_files[0])
    encoder = create_encoder(spec, settings)
    assert encoder.backbone.trunk.pos_embed.shape == (1, 1 + 28 * 28, 1024)
    torch.testing.assert_close(encoder.backbone.trunk.pos_embed[:, 0], sd["trunk.pos_embed"][:, 0])


def test_gpfm_github_and_hugging_face_layouts_load_the_same_weights(settings: Settings) -> None:
    spec = small_variant(get_spec("gpfm"))
    timm_sd = randomized(meta_timm(spec).state_dict(), seed=5)
    github = to_dinov2_teacher(timm_sd, seed=5, chunks=1)
    assert any(k.startswith("backbone.blocks.0.0.") for k in github["teacher"])  # chunked, as released
    encoders = []
    for layout, content in (("github", github), ("hugging-face", timm_sd)):
        file = settings.home / layout / "GPFM.pth"
        file.parent.mkdir()
        torch.save(content, file)
        encoders.append(create_encoder(spec, settings, weights=file))
    patches = torch.randint(0, 256, (2, 224, 224, 3), dtype=torch.uint8)
    first, second = (e.backbone.model.state_dict() for e in encoders)
    assert set(first) == set(timm_sd) and all(torch.equal(first[k], second[k]) for k in first)
    torch.testing.assert_close(encoders[0](patches), encoders[1](patches), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["h0-mini", "openmidnight-1.1"])
def test_hub_config_decides_architecture_and_preprocessing(name: str, settings: Settings) -> None:
    spec = small_variant(get_spec(name))
    folder = settings.weights_root / spec.name
    write_published(spec, folder)
    encoder = create_encoder(spec, settings)
    reference = to_jsonable(spec.hf_config)
    assert encoder.spec.mean == tuple(reference["pretrained_cfg"]["mean"])
    assert encoder.backbone.model.num_prefix_tokens == 1 + reference["model_args"]["reg_tokens"]
    key = encoder_key(encoder)
    assert key == cache_identity(spec, settings) and "config" in key

    # another published preprocessing: the config decides (crop 0.875 → resize 256, ImageNet → 0.5)
    config = json.loads((folder / "config.json").read_text())
    config["pretrained_cfg"].update(crop_pct=0.875, mean=[0.5] * 3, std=[0.5] * 3, interpolation="bilinear")
    (folder / "config.json").write_text(json.dumps(config))
    changed = create_encoder(spec, settings)
    assert (changed.spec.resize, changed.spec.mean, changed.spec.interpolation) == (256, (0.5,) * 3, "bilinear")
    assert encoder_key(changed) != key and cache_identity(spec, settings) == encoder_key(changed)


def test_hub_config_spec_needs_its_config_json(settings: Settings) -> None:
    spec = small_variant(get_spec("h0-mini"))
    folder = settings.weights_root / spec.name
    write_published(spec, folder)
    (folder / "config.json").unlink()
    with pytest.raises(WeightsError, match=r"no config\.json beside it") as info:
        create_encoder(spec, settings)
    assert "config.json" in info.value.fix
