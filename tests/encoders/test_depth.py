"""Features from any depth: each block's embedding equals that block's output, computed here by running
the blocks by hand, pooled as the spec says (CLS; CLS + patch mean skipping registers; a stage's average);
encoders without blocks refuse with a clear error. Parametrised over the registry."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from mitoviz.config import Settings
from mitoviz.encoders import (
    create_encoder,
    encoder_depth,
    get_spec,
    list_encoders,
    method_name,
    resolve_encoder_layers,
    split_method,
)
from mitoviz.encoders.backbones import ResNetBackbone, TimmBackbone, TransformersBackbone
from mitoviz.encoders.depth import refusal
from mitoviz.encoders.encoder import Encoder
from mitoviz.encoders.spec import EncoderSpec, to_jsonable
from mitoviz.errors import SpecError
from tests.encoders.published import reference, small_variant, write_hf

REFUSED = "cannot give features from single blocks"


def _architectures() -> dict[str, list[str]]:
    """One group per distinct architecture and pooling in the registry (the check runs once per group)."""
    groups: dict[str, list[str]] = {}
    for s in list_encoders():
        key = [s.library, s.arch, to_jsonable(reference(s).kwargs), s.pooling, s.prefix_tokens, s.tower]
        groups.setdefault(json.dumps(key, sort_keys=True, default=str), []).append(s.name)
    return {"+".join(names): names for names in groups.values()}


GROUPS = _architectures()


def _refuses(spec: EncoderSpec) -> bool:
    """Encoders without blocks: known from the spec, or XCiT (its CLS token exists only after the last block)."""
    return refusal(spec) is not None or spec.arch.startswith("xcit_")


_NARROW = {"embed_dim": 96, "num_heads": 4}  # block extraction and pooling do not depend on the width


def _tiny(spec: EncoderSpec, folder: Path) -> tuple[EncoderSpec, Path | None]:
    """A small random build of ``spec``: 3 narrow transformer blocks (tokens, registers and pooling as
    published), or one block per stage; random weights (a transformers model is written with its config)."""
    if spec.library == "transformers":
        narrow = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128}
        write_hf(spec, folder, seed=3, num_hidden_layers=3, **narrow)
        return dataclasses.replace(spec, dim=None), folder
    tiny = reference(small_variant(spec, depth=3))
    if spec.arch.startswith("vit_"):
        tiny = tiny.with_kwargs(**_NARROW)
    return dataclasses.replace(tiny, needs_weights=False, seed=0, hub_config=False, dim=None), None


def _pool_tokens(spec: EncoderSpec, tokens: torch.Tensor, prefix: int) -> torch.Tensor:
    """The spec's pooling, written out: CLS, or CLS with the mean of the tokens after all prefix tokens."""
    if spec.pooling == "cls":
        return tokens[:, 0]
    if spec.pooling == "cls+patch_mean":
        return torch.cat([tokens[:, 0], tokens[:, prefix:].mean(1)], dim=-1)
    raise AssertionError(f"no hand-written pooling for {spec.pooling}")


def _by_hand(encoder: Encoder, patches: torch.Tensor, blocks: list[int]) -> dict[int, torch.Tensor]:
    """Run the model block by block and pool the outputs of ``blocks`` (no final norm)."""
    spec, backbone = encoder.spec, encoder.backbone
    model = backbone.model
    x = encoder.preprocess(patches)
    out: dict[int, torch.Tensor] = {}
    with torch.inference_mode():
        if isinstance(backbone, TransformersBackbone):
            h = model.embeddings(x)
            layers = model.layers if hasattr(model, "layers") else model.encoder.layer
            for i, layer in enumerate(layers, 1):
                h = layer(h)
                h = h[0] if isinstance(h, tuple) else h
                if i in blocks:
                    out[i] = _pool_tokens(spec, h, encoder.num_prefix_tokens)
        elif isinstance(backbone, TimmBackbone) and backbone.tokens:  # a ViT: tokens after each block
            h = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(x))))
            for i, block in enumerate(model.blocks, 1):
                h = block(h)
                if i in blocks:
                    out[i] = _pool_tokens(spec, h, model.num_prefix_tokens)
        elif spec.arch.startswith("swin_"):  # stages of NHWC tokens: the mean over the map
            h = model.patch_embed(x)
            for i, stage in enumerate(model.layers, 1):
                h = stage(h)
                if i in blocks:
                    out[i] = h.mean((1, 2))
        else:  # ResNets (timm, torchvision, a truncated features_only net): the average of each stage's map
            act = model.act1 if hasattr(model, "act1") else model.relu
            h = model.maxpool(act(model.bn1(model.conv1(x))))
            for i in range(1, 5):
                if not hasattr(model, f"layer{i}"):
                    break
                h = getattr(model, f"layer{i}")(h)
                if i in blocks:
                    out[i] = h.mean((2, 3))
    return out


@pytest.mark.parametrize("names", list(GROUPS.values()), ids=list(GROUPS))
def test_block_embeddings_equal_the_blocks_run_by_hand(names: list[str], settings: Settings, tmp_path: Path) -> None:
    spec = get_spec(names[0])
    if _refuses(spec):
        tiny, weights = (spec, None) if refusal(spec) else _tiny(spec, tmp_path / "w")
        with pytest.raises(SpecError, match=REFUSED) as info:
            create_encoder(tiny, settings, weights=weights, layers=[1])
        assert info.value.fix
        return
    tiny, weights = _tiny(spec, tmp_path / "w")
    plain = create_encoder(tiny, settings, weights=weights)
    n = plain.backbone.n_blocks
    blocks = sorted({max(1, n - 2), n})  # non-adjacent, the last included: [1, 3] or [2, 4]
    layered = create_encoder(tiny, settings, weights=weights, layers=blocks)
    patches = torch.randint(0, 256, (2, 96, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))

    got = layered(patches)
    expected = _by_hand(plain, patches, blocks)

    assert sorted(got) == blocks == sorted(expected) and layered.layers == tuple(blocks)
    for b in blocks:
        assert got[b].dtype == torch.float32 and got[b].shape[0] == 2
        torch.testing.assert_close(got[b], expected[b], rtol=1e-5, atol=1e-5)
    if plain.backbone.block_unit == "block":  # the last block's CLS is not the final embedding (no final norm)
        assert got[n].shape == plain(patches).shape
        assert not torch.allclose(got[n], plain(patches))


def test_all_blocks_of_a_vit(settings: Settings) -> None:
    encoder = create_encoder("random-vits16", settings, layers="all")
    plain = create_encoder("random-vits16", settings)
    patches = torch.randint(0, 256, (3, 112, 112, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))
    got = encoder(patches)
    expected = _by_hand(plain, patches, list(range(1, 13)))
    assert list(got) == list(range(1, 13))
    for b in got:
        torch.testing.assert_close(got[b], expected[b], rtol=1e-5, atol=1e-5)


def test_torchvision_stages(settings: Settings, tmp_path: Path) -> None:
    """Lunit's torchvision ResNet: its four stages, by hand (also covered per group above when present)."""
    spec = dataclasses.replace(get_spec("lunit-rn50-bt"), needs_weights=False, seed=0).with_kwargs(layers=(1, 1, 1, 1))
    encoder = create_encoder(spec, settings, layers=[1, 4])
    assert isinstance(encoder.backbone, ResNetBackbone) and encoder.block_pooling == "gap"
    patches = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    expected = _by_hand(create_encoder(spec, settings), patches, [1, 4])
    got = encoder(patches)
    assert got[1].shape == (2, 256) and got[4].shape == (2, 2048)
    for b in (1, 4):
        torch.testing.assert_close(got[b], expected[b], rtol=1e-5, atol=1e-5)


def _published_depth(spec: EncoderSpec) -> int:
    """Blocks of a ViT by size (timm's names), its ``depth`` argument, or 4 stages of a ResNet/Swin."""
    kwargs: dict[str, Any] = to_jsonable(reference(spec).kwargs)
    if "depth" in kwargs:
        return kwargs["depth"]
    if spec.arch.startswith("vit_"):
        return {"small": 12, "base": 12, "large": 24, "huge": 32, "giant": 40}[spec.arch.split("_")[1]]
    return len(kwargs.get("out_indices", [1, 2, 3, 4])) and max(kwargs.get("out_indices", [4]))


@pytest.mark.parametrize(
    "name", [s.name for s in list_encoders() if not _refuses(s) and s.library != "transformers"]
)
def test_encoder_depth_without_weights(name: str, settings: Settings) -> None:
    """The depth comes from the architecture on the meta device, before any weights are read (an encoder
    built from its published config.json needs that file, and a weights file beside it, only to exist)."""
    spec = get_spec(name)
    if spec.hub_config:
        folder = settings.weights_root / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(to_jsonable(spec.hf_config)))
        (folder / spec.weight_files[0]).write_bytes(b"never read")
    n, unit = encoder_depth(name, settings)
    assert n == _published_depth(spec)
    assert unit == ("block" if spec.arch.startswith("vit_") else "stage")
    assert resolve_encoder_layers(name, "all", settings) == tuple(range(1, n + 1))


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([13], "has no block 13: random-vits16 has 12 blocks"),
        ([0, 3], "has no block 0"),
        ([], "whole block numbers"),
        ([True], "whole block numbers"),
        ([2.0], "whole block numbers"),
        ("some", "not understood"),
    ],
)
def test_bad_layers_are_refused_clearly(layers: Any, message: str, settings: Settings) -> None:
    with pytest.raises(SpecError, match=message) as info:
        create_encoder("random-vits16", settings, layers=layers)
    assert info.value.fix


def test_duplicate_and_unordered_layers_are_normalised(settings: Settings) -> None:
    assert resolve_encoder_layers("random-resnet50", [4, 2, 4], settings) == (2, 4)
    assert create_encoder("random-resnet50", settings, layers=[4, 2, 4]).layers == (2, 4)


def test_method_names() -> None:
    assert method_name("uni", 12) == "uni@12" and method_name("uni") == "uni"
    assert split_method("uni@12") == ("uni", 12) and split_method("uni") == ("uni", None)
    for bad in ("uni@", "uni@x", "uni@0", "uni@-1"):
        with pytest.raises(SpecError, match="names no block"):
            split_method(bad)
