"""Writing random checkpoints in each encoder's *published* file layout, for the loader to read strictly.

Shared by the zoo, depth and weights tests. ``write_published(spec, folder)`` writes what the authors
publish (wrappers, prefixes, old key names, heads the model does not use, config.json) and returns the
state dict the built model must end up with.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import timm
import torch
import torchvision
from safetensors.torch import save_file

from mitoviz.encoders.hubconfig import apply_hub_config
from mitoviz.encoders.layers import TOWERS, resolve_kwargs
from mitoviz.encoders.spec import EncoderSpec, to_jsonable


def small_variant(spec: EncoderSpec, depth: int = 1) -> EncoderSpec:
    """Fewer blocks per stage for speed; every other argument (widths, heads, tokens…) as published.

    Full-size architectures are counted on the meta device, and built for real for ViT-S/ResNet-50.
    """
    if spec.library == "torchvision":
        return spec.with_kwargs(layers=(1, 1, 1, 1))
    if spec.library != "timm":
        return spec
    if spec.arch.startswith(("vit_", "xcit_")):
        return spec.with_kwargs(depth=depth)
    if spec.arch.startswith("swin_"):
        return spec.with_kwargs(depths=(2, 2, 2, 2))  # keeps the shifted-window blocks (attn_mask)
    if spec.arch == "resnet50":
        return spec.with_kwargs(layers=(1, 1, 1, 1))
    return spec


def reference(spec: EncoderSpec) -> EncoderSpec:
    """The spec as built from its reference config (``hub_config`` specs; others unchanged)."""
    return apply_hub_config(spec, spec.hf_config or {}) if spec.hub_config else spec


def randomized(sd: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
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


def meta_timm(spec: EncoderSpec, **overrides: Any) -> torch.nn.Module:
    """The architecture (with its tower) on the meta device: key names and shapes, no initialisation."""
    spec = reference(spec)
    kwargs = resolve_kwargs(to_jsonable(spec.kwargs))
    kwargs.update(overrides)
    with torch.device("meta"):
        model = timm.create_model(spec.arch, pretrained=False, **kwargs)
        return TOWERS[spec.tower](model) if spec.tower else model


def to_dinov2_original(sd: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """timm reg4 ViT → facebookresearch/dinov2 layout (the inverse of timm's _convert_dinov2)."""
    g = torch.Generator().manual_seed(seed)
    dim = sd["cls_token"].shape[-1]
    swiglu = sd["blocks.0.mlp.fc1.weight"].shape[0] != 4 * dim  # DINOv2's code calls SwiGLU's layers w12 / w3
    renames = {"mlp.fc1": "mlp.w12", "mlp.fc2": "mlp.w3"} if swiglu else {}
    out = {}
    for k, v in sd.items():
        for old, new in renames.items():
            k = k.replace(old, new)
        out[k] = v
    cls_pos = torch.randn(1, 1, dim, generator=g) * 0.05
    out["register_tokens"] = out.pop("reg_token")
    out["cls_token"] = sd["cls_token"] - cls_pos
    out["pos_embed"] = torch.cat([cls_pos, sd["pos_embed"]], dim=1)
    out["mask_token"] = torch.randn(1, dim, generator=g)
    return out


def to_dinov2_teacher(sd: dict[str, torch.Tensor], seed: int, chunks: int = 1) -> dict[str, Any]:
    """timm ViT → a DINOv2 training checkpoint (GPFM's GitHub release): teacher backbone in block chunks."""
    g = torch.Generator().manual_seed(seed)
    teacher = {}
    for k, v in sd.items():
        m = re.match(r"blocks\.(\d+)\.(.*)", k)
        k = f"blocks.{int(m.group(1)) % chunks}.{m.group(1)}.{m.group(2)}" if m else k
        teacher[f"backbone.{k}"] = v
    teacher["backbone.mask_token"] = torch.randn(1, sd["cls_token"].shape[-1], generator=g)
    teacher["dino_head.mlp.0.weight"] = torch.randn(16, sd["cls_token"].shape[-1], generator=g)
    teacher["dino_head.last_layer.weight_g"] = torch.randn(64, 1, generator=g)
    return {"teacher": teacher, "student": {"backbone.cls_token": torch.zeros(1)}, "iteration": torch.tensor(7)}


def to_old_swin(model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
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


def write_hf(spec: EncoderSpec, folder: Path, seed: int, **overrides: Any) -> dict[str, torch.Tensor]:
    """A transformers model saved as published (pre-v5 key layout plus config.json); one layer unless
    ``overrides`` (config values) say otherwise."""
    import transformers

    cfg = {**dict(spec.hf_config or {}), "num_hidden_layers": 1, **overrides}
    model_type = cfg.pop("model_type")
    config_cls = {
        "ViTModel": transformers.ViTConfig,
        "Dinov2Model": transformers.Dinov2Config,
        "Dinov2WithRegistersModel": transformers.Dinov2WithRegistersConfig,
    }[spec.arch]
    model = getattr(transformers, spec.arch)(config_cls(**cfg))  # ViT keeps its pooler, as published
    model.load_state_dict(randomized(model.state_dict(), seed))
    model.save_pretrained(folder)
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


def _timm_layout(spec: EncoderSpec, seed: int) -> tuple[Any, dict[str, torch.Tensor], set[str]]:
    """(published object, expected state dict, keys checked for shape only) of a timm spec."""
    if spec.checkpoint_filter == "timm_vit" and (spec.hf_repo or "").startswith("timm/"):
        published = randomized(meta_timm(spec, img_size=518).state_dict(), seed)  # timm hub DINOv2 at 518
        return published, published, {"pos_embed"}
    if spec.checkpoint_filter in ("timm_vit", "timm_dinov2_original"):  # DINOv2's own layout (Kaiko, OpenMidnight)
        expected = randomized(meta_timm(spec).state_dict(), seed)
        return to_dinov2_original(expected, seed), expected, set()
    if spec.checkpoint_filter == "dinov2_teacher":  # GPFM's GitHub release
        expected = randomized(meta_timm(spec).state_dict(), seed)
        return to_dinov2_teacher(expected, seed, chunks=2), expected, set()
    if spec.checkpoint_filter == "timm_swin":  # CTransPath: timm 0.5.4 layout under "model"
        model = meta_timm(spec)
        expected = randomized(model.state_dict(), seed)
        return to_old_swin(model, expected), expected, set()
    if spec.keep_prefix == "backbone.":  # DINO wrapper: backbone + projection head
        expected = randomized(meta_timm(spec).state_dict(), seed)
        g = torch.Generator().manual_seed(seed)
        published = {f"backbone.{k}": v for k, v in expected.items()}
        published |= {
            "head.mlp.0.weight": torch.randn(2048, 384, generator=g),
            "head.last_layer.weight_g": torch.randn(65536, 1, generator=g),
        }
        return {"teacher": published}, expected, set()
    if spec.drop_keys:  # timm hub ResNet-50: the full ImageNet classifier is in the file
        arch_kwargs = {
            k: v for k, v in to_jsonable(spec.kwargs).items() if k not in ("features_only", "out_indices")
        }
        with torch.device("meta"):
            resnet = timm.create_model("resnet50", **{**arch_kwargs, "num_classes": 1000})
        published = randomized(resnet.state_dict(), seed)
        expected = {k: v for k, v in published.items() if not any(fnmatch.fnmatch(k, p) for p in spec.drop_keys)}
        return published, expected, set()
    # plain timm state dict (UNI, Virchow, GigaPath, H-optimus, Kaiko, Lunit ViT, H0-mini, CONCH v1.5's tower)
    expected = randomized(meta_timm(spec).state_dict(), seed)
    return expected, expected, set()


def write_published(
    spec: EncoderSpec, folder: Path, seed: int = 7
) -> tuple[dict[str, torch.Tensor], set[str]]:
    """Write a random checkpoint of ``spec`` as its authors publish it.

    Returns the state dict the built model must end up with and the keys only checked for shape.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if spec.library == "transformers":
        return write_hf(spec, folder, seed), set()
    if spec.library == "torchvision":  # Lunit: torchvision ResNet(Bottleneck, layers) with fc deleted
        layers = to_jsonable(spec.kwargs)["layers"]
        with torch.device("meta"):
            resnet = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, layers)
        full = randomized(resnet.state_dict(), seed)
        published = expected = {k: v for k, v in full.items() if not k.startswith("fc.")}
        skip: set[str] = set()
    else:
        published, expected, skip = _timm_layout(spec, seed)
    if spec.hub_config:
        (folder / "config.json").write_text(json.dumps({**to_jsonable(spec.hf_config), "num_classes": 0}))
    file = folder / spec.weight_files[0]
    if file.suffix == ".safetensors":
        save_file(published, str(file))
    else:
        torch.save(published, file)
    return expected, skip


# ---- a tiny ViT and a malicious payload, for the weights tests ----------------------------------------

TINY = EncoderSpec(
    name="tiny-vit",
    title="Tiny ViT for tests",
    family="custom",
    library="timm",
    arch="vit_small_patch16_224",
    kwargs={"depth": 1, "num_classes": 0},
    dim=384,
    pooling="cls",
    prefix_tokens=1,
    weight_files=("tiny.pth", "tiny.safetensors"),
    hf_repo="example/tiny-vit",
)


def tiny_state_dict() -> dict[str, torch.Tensor]:
    model = timm.create_model(TINY.arch, pretrained=False, **TINY.kwargs)
    return {k: v.clone() for k, v in model.state_dict().items()}


class Payload:
    """Unpickling this object calls ``open(marker, "w")``: creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))
