"""Every registered encoder: the architecture builds, a random checkpoint written in the *published*
file layout loads through the real loader strictly, and the embedding has the spec's dimension."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from mitoviz.config import Settings
from mitoviz.encoders import create_encoder, get_spec, list_encoders
from mitoviz.encoders.builders import BUILDERS
from mitoviz.encoders.encoder import Encoder
from mitoviz.encoders.layers import resolve_kwargs
from mitoviz.encoders.spec import EncoderSpec, to_jsonable

ALL = [s.name for s in list_encoders()]


def small_variant(spec: EncoderSpec) -> EncoderSpec:
    """Fewer blocks per stage for speed; every other argument (widths, heads, tokens…) as published.

    Full-size architectures are counted on the meta device below, and built for real for ViT-S/ResNet-50.
    """
    if spec.library == "torchvision":
        return spec.with_kwargs(layers=(1, 1, 1, 1))
    if spec.library != "timm":
        return spec
    if spec.arch.startswith(("vit_", "xcit_")):
        return spec.with_kwargs(depth=1)
    if spec.arch.startswith("swin_"):
        return spec.with_kwargs(depths=(2, 2, 2, 2))  # keeps the shifted-window blocks (attn_mask)
    if spec.arch == "resnet50":
        return spec.with_kwargs(layers=(1, 1, 1, 1))
    return spec


def _randomized(sd: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Values no fresh model has, so an unloaded model cannot pass the equality checks."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in sd.items():
        if not v.is_floating_point():
            out[k] = torch.zeros(v.shape, dtype=v.dtype)
        elif k.endswith("running_var"):
            out[k] = torch.empty(v.shape).uniform_(0.5, 1.5, generator=g)
        else:
            out[k] = torch.empty(v.shape).uniform_(-0.1, 0.1, generator=g)
    return out


def _timm(spec: EncoderSpec, **overrides: Any) -> torch.nn.Module:
    """The architecture on the meta device: shapes and key names without the cost of initialising."""
    kwargs = resolve_kwargs(to_jsonable(spec.kwargs))
    kwargs.update(overrides)
    with torch.device("meta"):
        return timm.create_model(spec.arch, pretrained=False, **kwargs)


def _to_dinov2_original(sd: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """timm reg4 ViT → facebookresearch/dinov2 layout (the inverse of timm's _convert_dinov2)."""
    g = torch.Generator().manual_seed(seed)
    out = dict(sd)
    dim = sd["cls_token"].shape[-1]
    cls_pos = torch.randn(1, 1, dim, generator=g) * 0.05
    out["register_tokens"] = out.pop("reg_token")
    out["cls_token"] = sd["cls_token"] - cls_pos
    out["pos_embed"] = torch.cat([cls_pos, sd["pos_embed"]], dim=1)
    out["mask_token"] = torch.randn(1, dim, generator=g)
    return out


def _to_old_swin(model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm 1.x Swin → timm 0.5.4 layout: downsample at the end of a stage, persistent buffers."""
    out = {}
    for k, v in sd.items():
        if k.startswith("layers.") and ".downsample." in k:
            stage = int(k.split(".")[1])
            k = k.replace(f"layers.{stage}.downsample", f"layers.{stage - 1}.downsample", 1)
        out[k] = v
    for name, buf in model.named_buffers():
        if name.endswith(("relative_position_index", "attn_mask")):
            out[name] = torch.zeros(buf.shape, dtype=buf.dtype)
    return {"model": out}


def _write_hf(spec: EncoderSpec, folder: Path, seed: int) -> dict[str, torch.Tensor]:
    import transformers

    cfg = dict(spec.hf_config or {})
    model_type = cfg.pop("model_type")
    cfg["num_hidden_layers"] = 1
    config_cls = {
        "ViTModel": transformers.ViTConfig,
        "Dinov2Model": transformers.Dinov2Config,
        "Dinov2WithRegistersModel": transformers.Dinov2WithRegistersConfig,
    }[spec.arch]
    model = getattr(transformers, spec.arch)(config_cls(**cfg))  # ViT keeps its pooler, as published
    model.load_state_dict(_randomized(model.state_dict(), seed))
    model.save_pretrained(folder)  # the published (pre-v5) key layout plus config.json
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = model_type
    if spec.arch == "Dinov2WithRegistersModel":  # Hibou's repo: custom code named in auto_map
        config["auto_map"] = {
            "AutoConfig": "configuration_dinov2.Dinov2Config",
            "AutoModel": "modeling_dinov2.Dinov2Model",
        }
        marker = folder / "REMOTE_CODE_RAN"
        payload = f"open({str(marker)!r}, 'w').close()\n"
        (folder / "modeling_dinov2.py").write_text(payload)
        (folder / "configuration_dinov2.py").write_text(payload)
    (folder / "config.json").write_text(json.dumps(config))
    return {
        k: v for k, v in model.state_dict().items() if not any(fnmatch.fnmatch(k, p) for p in spec.drop_keys)
    }


def write_published(
    spec: EncoderSpec, folder: Path, seed: int = 7
) -> tuple[dict[str, torch.Tensor], set[str]]:
    """Write a random checkpoint of ``spec`` as its authors publish it.

    Returns the state dict the built model must end up with and the keys only checked for shape.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if spec.library == "transformers":
        return _write_hf(spec, folder, seed), set()
    skip: set[str] = set()
    if spec.library == "torchvision":  # Lunit: torchvision ResNet(Bottleneck, layers) with fc deleted
        layers = to_jsonable(spec.kwargs)["layers"]
        with torch.device("meta"):
            resnet = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, layers)
        full = _randomized(resnet.state_dict(), seed)
        published = {k: v for k, v in full.items() if not k.startswith("fc.")}
        expected = published
    elif spec.checkpoint_filter == "timm_vit":  # timm hub DINOv2: timm layout at 518 px
        published = _randomized(_timm(spec, img_size=518).state_dict(), seed)
        expected, skip = published, {"pos_embed"}
    elif spec.checkpoint_filter == "timm_dinov2_original":  # Kaiko ViT-L/14: DINOv2 original layout
        expected = _randomized(_timm(spec).state_dict(), seed)
        published = _to_dinov2_original(expected, seed)
    elif spec.checkpoint_filter == "timm_swin":  # CTransPath: timm 0.5.4 layout under "model"
        model = _timm(spec)
        expected = _randomized(model.state_dict(), seed)
        published = _to_old_swin(model, expected)
    elif spec.keep_prefix == "backbone.":  # DINO wrapper: backbone + projection head
        expected = _randomized(_timm(spec).state_dict(), seed)
        g = torch.Generator().manual_seed(seed)
        published = {f"backbone.{k}": v for k, v in expected.items()}
        published |= {
            "head.mlp.0.weight": torch.randn(2048, 384, generator=g),
            "head.last_layer.weight_g": torch.randn(65536, 1, generator=g),
        }
    elif spec.drop_keys:  # timm hub ResNet-50: the full ImageNet classifier is in the file
        arch_kwargs = {
            k: v for k, v in to_jsonable(spec.kwargs).items() if k not in ("features_only", "out_indices")
        }
        with torch.device("meta"):
            resnet = timm.create_model("resnet50", **{**arch_kwargs, "num_classes": 1000})
        published = _randomized(resnet.state_dict(), seed)
        expected = {
            k: v for k, v in published.items() if not any(fnmatch.fnmatch(k, p) for p in spec.drop_keys)
        }
    else:  # plain timm state dict (UNI, Virchow, GigaPath, H-optimus, Kaiko, Lunit ViT)
        expected = published = _randomized(_timm(spec).state_dict(), seed)
    file = folder / spec.weight_files[0]
    if file.suffix == ".safetensors":
        save_file(published, str(file))
    else:
        torch.save(published, file)
    return expected, skip


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
    loaded = encoder.backbone.model.state_dict()
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


@pytest.mark.parametrize("name", ["uni2-h", "dinov2-vits14", "xcit-dino-bm"])
def test_cls_pooling_equals_timm_pooled_output(name: str) -> None:
    """For token-pooled timm models, tokens[:, 0] is exactly what ``model(x)`` returns (the cards' usage)."""
    spec = small_variant(get_spec(name))
    backbone, width, prefix = BUILDERS["timm"](spec, None)
    encoder = Encoder(
        spec, backbone, dim=width, num_prefix_tokens=prefix, weights_digest="test", weights_path=None
    )
    patches = torch.randint(0, 256, (2, 224, 224, 3), dtype=torch.uint8)
    with torch.inference_mode():
        reference = backbone.model(encoder.preprocess(patches))
    torch.testing.assert_close(encoder(patches), reference)


def _architectures() -> dict[str, list[str]]:
    """Specs that build the same architecture, grouped (the count is checked once per group)."""
    groups: dict[str, list[str]] = {}
    for s in list_encoders():
        if s.library in ("timm", "torchvision") and s.params_m:
            key = json.dumps([s.library, s.arch, to_jsonable(s.kwargs), s.params_m], sort_keys=True)
            groups.setdefault(key, []).append(s.name)
    return {"+".join(names): names for names in groups.values()}


@pytest.mark.parametrize("names", list(_architectures().values()), ids=list(_architectures()))
def test_full_architecture_parameter_count_matches_spec(names: list[str]) -> None:
    """The full-size architecture (built on the meta device: no memory) has spec.params_m parameters."""
    spec = get_spec(names[0])
    with torch.device("meta"):
        backbone, _, _ = BUILDERS[spec.library](spec, None)
    count = sum(p.numel() for p in backbone.parameters()) / 1e6
    assert count == pytest.approx(spec.params_m, abs=0.006)
