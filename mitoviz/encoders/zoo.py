"""Specs of the published encoders (facts from shared/reference/encoders.md) and the user's own.

Not here, on purpose:
- CONCH needs the ``conch`` package (an open_clip fork with a CoCa attentional pooler); rebuilding
  its image tower without it would mean vendoring that code.
- Hibou's model card loads with ``trust_remote_code=True``. We never execute code shipped with
  weights: Hibou is built with transformers' own ``Dinov2WithRegistersModel`` and loads only when
  its config and keys fit that class exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mitoviz.config import Settings
from mitoviz.encoders.spec import HALF, IMAGENET_MEAN, IMAGENET_STD, POOLINGS, EncoderSpec, register
from mitoviz.errors import SpecError

HOPT_MEAN, HOPT_STD = (0.707223, 0.578729, 0.703617), (0.211883, 0.230117, 0.177517)
HIB_MEAN, HIB_STD = (0.7068, 0.5755, 0.722), (0.195, 0.2316, 0.1816)
LUNIT_MEAN, LUNIT_STD = (0.70322989, 0.53606487, 0.66096631), (0.21716536, 0.26081574, 0.20723464)

FM = "pathology foundation model"
SSL = "pathology SSL"

_VIRCHOW_KWARGS = {
    "img_size": 224,
    "init_values": 1e-5,
    "num_classes": 0,
    "mlp_ratio": 5.3375,
    "global_pool": "",
    "dynamic_img_size": True,
    "mlp_layer": "SwiGLUPacked",
    "act_layer": "SiLU",
}

register(
    EncoderSpec(
        name="uni",
        title="UNI (ViT-L/16)",
        family=FM,
        library="timm",
        arch="vit_large_patch16_224",
        kwargs={
            "img_size": 224,
            "patch_size": 16,
            "init_values": 1e-5,
            "num_classes": 0,
            "dynamic_img_size": True,
        },
        dim=1024,
        params_m=303.35,
        pooling="cls",
        prefix_tokens=1,
        hf_repo="MahmoodLab/UNI",
        weight_files=("pytorch_model.bin",),
        licence="CC-BY-NC-ND 4.0",
        gated=True,
        notes="Resize + centre crop 224, ImageNet normalisation (mahmoodlab/UNI README).",
    )
)
register(
    EncoderSpec(
        name="uni2-h",
        title="UNI2-h (ViT-H/14, 8 registers)",
        family=FM,
        library="timm",
        arch="vit_giant_patch14_224",
        kwargs={
            "img_size": 224,
            "patch_size": 14,
            "depth": 24,
            "num_heads": 24,
            "init_values": 1e-5,
            "embed_dim": 1536,
            "mlp_ratio": 2.66667 * 2,
            "num_classes": 0,
            "no_embed_class": True,
            "mlp_layer": "SwiGLUPacked",
            "act_layer": "SiLU",
            "reg_tokens": 8,
            "dynamic_img_size": True,
        },
        dim=1536,
        params_m=681.39,
        pooling="cls",
        prefix_tokens=9,
        hf_repo="MahmoodLab/UNI2-h",
        weight_files=("pytorch_model.bin",),
        licence="CC-BY-NC-ND 4.0",
        gated=True,
    )
)
register(
    EncoderSpec(
        name="virchow",
        title="Virchow (ViT-H/14)",
        family=FM,
        library="timm",
        arch="vit_huge_patch14_224",
        kwargs=_VIRCHOW_KWARGS,
        dim=2560,
        params_m=631.23,
        interpolation="bicubic",
        pooling="cls+patch_mean",
        prefix_tokens=1,
        hf_repo="paige-ai/Virchow",
        weight_files=("pytorch_model.bin",),
        licence="Apache-2.0",
        gated=True,
        notes="Trained at 0.5 µm/px (20x). Embedding = CLS + mean of the 256 patch tokens (model card). "
        "Bicubic resize as published for Virchow2 [unverified for Virchow].",
    )
)
register(
    EncoderSpec(
        name="virchow2",
        title="Virchow2 (ViT-H/14, 4 registers)",
        family=FM,
        library="timm",
        arch="vit_huge_patch14_224",
        kwargs={**_VIRCHOW_KWARGS, "reg_tokens": 4},
        dim=2560,
        params_m=631.24,
        interpolation="bicubic",
        pooling="cls+patch_mean",
        prefix_tokens=5,
        hf_repo="paige-ai/Virchow2",
        weight_files=("model.safetensors", "pytorch_model.bin"),
        licence="CC-BY-NC-ND 4.0",
        gated=True,
        notes="Embedding = CLS + mean of tokens 5: (the 4 registers skipped), as on the model card; "
        "other benchmarks use CLS only or include the registers.",
    )
)
register(
    EncoderSpec(
        name="prov-gigapath",
        title="Prov-GigaPath tile encoder (ViT-g/16)",
        family=FM,
        library="timm",
        arch="vit_giant_patch14_dinov2",
        kwargs={
            "img_size": 224,
            "in_chans": 3,
            "patch_size": 16,
            "embed_dim": 1536,
            "depth": 40,
            "num_heads": 24,
            "init_values": 1e-5,
            "mlp_ratio": 5.33334,
            "num_classes": 0,
        },
        dim=1536,
        params_m=1134.95,
        resize=256,
        interpolation="bicubic",
        pooling="cls",
        prefix_tokens=1,
        hf_repo="prov-gigapath/prov-gigapath",
        weight_files=("pytorch_model.bin",),
        licence="conflicting: GitHub README Apache-2.0, HF page 'prov-gigapath-license (other)'",
        gated=True,
        notes="Resize 256 bicubic, centre crop 224 (README); FMC resizes 224 without a crop.",
    )
)
for _name, _title, _licence, _files in (
    ("h-optimus-0", "H-optimus-0 (ViT-g/14, 4 registers)", "Apache-2.0", ("pytorch_model.bin",)),
    (
        "h-optimus-1",
        "H-optimus-1 (ViT-g/14, 4 registers)",
        "unverified",
        ("model.safetensors", "pytorch_model.bin"),
    ),
):
    register(
        EncoderSpec(
            name=_name,
            title=_title,
            family=FM,
            library="timm",
            arch="vit_giant_patch14_reg4_dinov2",
            kwargs={
                "img_size": 224,
                "num_classes": 0,
                "global_pool": "token",
                "init_values": 1e-5,
                "dynamic_img_size": False,
            },
            dim=1536,
            params_m=1134.77,
            mean=HOPT_MEAN,
            std=HOPT_STD,
            pooling="cls",
            prefix_tokens=5,
            hf_repo=f"bioptimus/{_name.replace('h-optimus', 'H-optimus')}",
            weight_files=_files,
            licence=_licence,
            gated=True,
            notes="Fixed 224 input; always built with img_size=224 (timm's default for the arch is 518).",
        )
    )

register(
    EncoderSpec(
        name="phikon",
        title="Phikon (ViT-B/16, iBOT)",
        family=FM,
        library="transformers",
        arch="ViTModel",
        kwargs={"add_pooling_layer": False},
        dim=768,
        params_m=85.8,
        pooling="cls",
        prefix_tokens=1,
        hf_repo="owkin/phikon",
        weight_files=("model.safetensors", "pytorch_model.bin"),
        drop_keys=("pooler.*",),
        licence="HF tag 'other' (text unverified)",
        hf_config={
            "model_type": "vit",
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "image_size": 224,
            "patch_size": 16,
            "qkv_bias": True,
        },
        notes="last_hidden_state[:, 0]; the unused pooler is not built (add_pooling_layer=False).",
    )
)
register(
    EncoderSpec(
        name="phikon-v2",
        title="Phikon-v2 (ViT-L/16, DINOv2)",
        family=FM,
        library="transformers",
        arch="Dinov2Model",
        dim=1024,
        params_m=307.0,
        pooling="cls",
        prefix_tokens=1,
        hf_repo="owkin/phikon-v2",
        weight_files=("model.safetensors",),
        licence="Owkin non-commercial (LICENSE.pdf)",
        hf_config={
            "model_type": "dinov2",
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "mlp_ratio": 4,
            "image_size": 224,
            "patch_size": 16,
            "layerscale_value": 1e-5,
        },
        notes="last_hidden_state[:, 0]. Parameter count from the model card [unverified].",
    )
)
for _name, _title, _repo, _dim, _params, _cfg, _gated in (
    (
        "hibou-b",
        "Hibou-B (ViT-B/14, 4 registers)",
        "histai/hibou-b",
        768,
        86.0,
        {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12},
        False,
    ),
    (
        "hibou-l",
        "Hibou-L (ViT-L/14, 4 registers)",
        "histai/hibou-L",
        1024,
        304.0,
        {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16},
        True,
    ),
):
    register(
        EncoderSpec(
            name=_name,
            title=_title,
            family=FM,
            library="transformers",
            arch="Dinov2WithRegistersModel",
            dim=_dim,
            params_m=_params,
            resize=224,
            interpolation="bicubic",
            mean=HIB_MEAN,
            std=HIB_STD,
            pooling="cls",
            prefix_tokens=5,
            hf_repo=_repo,
            weight_files=("model.safetensors",),
            licence="Apache-2.0",
            gated=_gated,
            hf_config={
                "model_type": "dinov2",
                "num_register_tokens": 4,
                "image_size": 224,
                "patch_size": 14,
                "mlp_ratio": 4,
                "layerscale_value": 1e-5,
                **_cfg,
            },
            notes="The model card loads Hibou with trust_remote_code=True; mitoviz never runs code shipped "
            "with weights and builds transformers' own Dinov2WithRegistersModel instead (pooler_output "
            "= CLS of the final layer norm). Loads only if config.json and every key fit.",
        )
    )

_KAIKO = "https://github.com/kaiko-ai/towards_large_pathology_fms"
for _name, _title, _arch, _file, _dim, _params in (
    ("kaiko-vits16", "Kaiko ViT-S/16", "vit_small_patch16_224", "vits16.pth", 384, 21.67),
    ("kaiko-vits8", "Kaiko ViT-S/8", "vit_small_patch8_224", "vits8.pth", 384, 21.67),
    ("kaiko-vitb16", "Kaiko ViT-B/16", "vit_base_patch16_224", "vitb16.pth", 768, 85.80),
    ("kaiko-vitb8", "Kaiko ViT-B/8", "vit_base_patch8_224", "vitb8.pth", 768, 85.81),
):
    register(
        EncoderSpec(
            name=_name,
            title=_title,
            family=FM,
            library="timm",
            arch=_arch,
            kwargs={"dynamic_img_size": True, "num_classes": 0},
            dim=_dim,
            params_m=_params,
            mean=HALF,
            std=HALF,
            pooling="cls",
            prefix_tokens=1,
            weight_files=(_file,),
            url=_KAIKO,
            download_url=f"{_KAIKO}/releases/download/0.0.1/{_file}",
            licence="Kaiko Non-Commercial Public License (repo LICENSE; HF copies say apache-2.0)",
        )
    )
register(
    EncoderSpec(
        name="kaiko-vitl14",
        title="Kaiko ViT-L/14 (4 registers)",
        family=FM,
        library="timm",
        arch="vit_large_patch14_reg4_dinov2",
        kwargs={"dynamic_img_size": True, "num_classes": 0},
        dim=1024,
        params_m=304.37,
        mean=HALF,
        std=HALF,
        pooling="cls",
        prefix_tokens=5,
        weight_files=("vitl14.pth",),
        url=_KAIKO,
        download_url=f"{_KAIKO}/releases/download/0.0.1/vitl14.pth",
        checkpoint_filter="timm_dinov2_original",
        licence="Kaiko Non-Commercial Public License (repo LICENSE; HF copies say apache-2.0)",
        notes="Built at timm's default 518 px (as hubconf.py does) and fed 224 with dynamic_img_size; "
        "the file is in DINOv2's original key layout, converted with timm's _convert_dinov2. "
        "304.37 M parameters at 518 px (303.23 M if it were built at 224).",
    )
)

_LUNIT = "https://github.com/lunit-io/benchmark-ssl-pathology"
_LUNIT_DL = f"{_LUNIT}/releases/download/pretrained-weights/"
for _method, _label in (("bt", "Barlow Twins"), ("mocov2", "MoCo v2"), ("swav", "SwAV")):
    register(
        EncoderSpec(
            name=f"lunit-rn50-{_method}",
            title=f"Lunit ResNet-50 {_label}",
            family=SSL,
            library="torchvision",
            arch="ResNet",
            kwargs={"block": "Bottleneck", "layers": [3, 4, 6, 3]},
            dim=2048,
            params_m=23.51,
            mean=LUNIT_MEAN,
            std=LUNIT_STD,
            pooling="gap",
            weight_files=(f"{_method}_rn50_ep200.torch",),
            url=_LUNIT,
            download_url=f"{_LUNIT_DL}{_method}_rn50_ep200.torch",
            licence="Lunit non-commercial",
            channels_last=True,
            notes="torchvision ResNet-50 without fc, GAP of layer4. LUNIT stats are documented for the "
            "ViT-S models only; their use for the ResNets is [unverified].",
        )
    )
for _patch in (16, 8):
    register(
        EncoderSpec(
            name=f"lunit-vits{_patch}-dino",
            title=f"Lunit DINO ViT-S/{_patch}",
            family=SSL,
            library="timm",
            arch=f"vit_small_patch{_patch}_224",
            kwargs={"img_size": 224, "num_classes": 0},
            dim=384,
            params_m=21.67,
            mean=LUNIT_MEAN,
            std=LUNIT_STD,
            pooling="cls",
            prefix_tokens=1,
            weight_files=(f"dino_vit_small_patch{_patch}_ep200.torch",),
            url=_LUNIT,
            download_url=f"{_LUNIT_DL}dino_vit_small_patch{_patch}_ep200.torch",
            licence="Lunit non-commercial",
        )
    )

for _size, _label, _dim, _params in (
    ("small", "S", 384, 21.63),
    ("base", "B", 768, 85.72),
    ("large", "L", 1024, 303.23),
    ("giant", "g", 1536, 1134.77),
):
    register(
        EncoderSpec(
            name=f"dinov2-vit{_label.lower()}14",
            title=f"DINOv2 ViT-{_label}/14 (LVD-142M)",
            family="general",
            library="timm",
            arch=f"vit_{_size}_patch14_dinov2",
            kwargs={"img_size": 224, "num_classes": 0},
            dim=_dim,
            params_m=_params,
            interpolation="bicubic",
            pooling="cls",
            prefix_tokens=1,
            hf_repo=f"timm/vit_{_size}_patch14_dinov2.lvd142m",
            weight_files=("model.safetensors",),
            checkpoint_filter="timm_vit",
            licence="differs by revision: cc-by-nc-4.0 or apache-2.0 (see the model page)",
            notes="Published at 518 px; built at 224 and the position embedding resampled by timm's "
            "checkpoint filter (as timm does for pretrained=True, img_size=224).",
        )
    )

_TV = "timm/resnet50.tv_in1k"
register(
    EncoderSpec(
        name="resnet50-imagenet",
        title="ResNet-50 ImageNet (torchvision V1 weights)",
        family="general",
        library="timm",
        arch="resnet50",
        kwargs={"num_classes": 0},
        dim=2048,
        params_m=23.51,
        pooling="gap",
        hf_repo=_TV,
        weight_files=("model.safetensors",),
        drop_keys=("fc.*",),
        licence="BSD-3-Clause",
        channels_last=True,
        notes="The ImageNet classifier (fc) in the file is not used.",
    )
)
register(
    EncoderSpec(
        name="resnet50-imagenet-layer3",
        title="ResNet-50 ImageNet, truncated after layer3 (CLAM)",
        family="general",
        library="timm",
        arch="resnet50",
        kwargs={"features_only": True, "out_indices": [3]},
        dim=1024,
        params_m=8.54,
        pooling="gap",
        hf_repo=_TV,
        weight_files=("model.safetensors",),
        drop_keys=("layer4.*", "fc.*"),
        licence="BSD-3-Clause",
        channels_last=True,
        notes="GAP of layer3 (1024 channels), as CLAM, UNI and TRIDENT use it.",
    )
)

_SPARSAM = "https://github.com/IPMI-ICNS-UKE/sparsam"
for _tag in ("bm", "endo", "isic"):
    register(
        EncoderSpec(
            name=f"xcit-dino-{_tag}",
            title=f"XCiT-S12/8 DINO, '{_tag}' checkpoint (Nielsen et al.)",
            family=SSL,
            library="timm",
            arch="xcit_small_12_p8_224",
            kwargs={"num_classes": 0},
            dim=384,
            params_m=25.83,
            input_size=256,
            interpolation="nearest",
            mean=HALF,
            std=HALF,
            pooling="cls",
            prefix_tokens=1,
            weight_files=(f"pretrained_{_tag}.pt",),
            wrapper_keys=("teacher", "state_dict", "model"),
            keep_prefix="backbone.",
            checkpoint_filter="timm_xcit",
            url=f"{_SPARSAM} (models/pretrained_{_tag}.pt, Git LFS) or Zenodo record 10391339",
            licence="unverified",
            notes="Input scaled to -1…1 (x*2-1 = normalise with 0.5/0.5). Only the DINO wrapper's "
            "'backbone.' keys are kept; the projection head is discarded. Teacher vs student [unverified].",
        )
    )

register(
    EncoderSpec(
        name="ctranspath",
        title="CTransPath (Swin-T with conv stem)",
        family=SSL,
        library="timm",
        arch="swin_tiny_patch4_window7_224",
        kwargs={"img_size": 224, "num_classes": 0, "embed_layer": "ConvStem"},
        dim=768,
        params_m=27.52,
        pooling="patch_mean",
        prefix_tokens=0,
        weight_files=("ctranspath.pth",),
        checkpoint_filter="timm_swin",
        url="https://github.com/Xiyue-Wang/TransPath",
        licence="unverified",
        notes="Built with timm 1.x Swin and mitoviz's ConvStem (same parameter names as the original); the "
        "old timm 0.5.4 key layout of ctranspath.pth is converted by timm's own Swin checkpoint filter. "
        "Pooled output = mean of the final normed tokens, as the original with head = Identity.",
    )
)


# --------------------------------------------------------------------------------------------------
# The user's own encoders, from config.toml: [[encoders]] name = "...", arch = "...", checkpoint = "..."

_CUSTOM_KEYS = {
    "name": str,
    "arch": str,
    "checkpoint": str,
    "title": str,
    "dim": int,
    "mean": list,
    "std": list,
    "input_size": int,
    "resize": int,
    "interpolation": str,
    "pooling": str,
    "kwargs": dict,
    "strip_prefixes": list,
    "wrapper_keys": list,
    "drop_keys": list,
    "keep_prefix": str,
}


def _check_type(where: str, key: str, value: Any, kind: type) -> Any:
    if kind is int and isinstance(value, bool):
        ok = False
    elif kind is list:
        ok = isinstance(value, list | tuple)
    elif kind is dict:
        ok = isinstance(value, Mapping)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise SpecError(f"{where}: '{key}' must be {kind.__name__}, got {value!r}.", "Fix config.toml.")
    return value


def spec_from_entry(entry: Mapping[str, Any], settings: Settings, index: int = 0) -> EncoderSpec:
    """One ``[[encoders]]`` table from config.toml as a spec: a timm architecture plus a local checkpoint.

    Missing preprocessing values come from timm's default pretrained config for the architecture.
    """
    where = f"Custom encoder #{index + 1}"
    if not isinstance(entry, Mapping):
        raise SpecError(
            f"{where} is not a table.", "Write it as [[encoders]] with name, arch and checkpoint."
        )
    if isinstance(entry.get("name"), str):
        where += f" ({entry['name']!r})"
    unknown = sorted(set(entry) - set(_CUSTOM_KEYS))
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(unknown)}.", f"Allowed keys: {', '.join(_CUSTOM_KEYS)}."
        )
    for required in ("name", "arch", "checkpoint"):
        if required not in entry:
            raise SpecError(
                f"{where}: '{required}' is missing.", "Give name, arch (a timm model) and checkpoint."
            )
    for key, value in entry.items():
        _check_type(where, key, value, _CUSTOM_KEYS[key])
    name = entry["name"].strip().lower()
    from mitoviz.encoders.spec import _REGISTRY, _ensure_builtins

    _ensure_builtins()
    if name in _REGISTRY:
        raise SpecError(f"{where}: the name {name!r} is taken by a built-in encoder.", "Choose another name.")

    import timm

    arch = entry["arch"].strip()
    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch.split('.')[0][:12]}*")[:5]
        hint = f" Close timm names: {', '.join(close)}." if close else ""
        raise SpecError(
            f"{where}: {arch!r} is not a timm architecture.", "Use a name from timm.list_models()." + hint
        )
    try:
        cfg = timm.models.get_pretrained_cfg(arch)
    except RuntimeError as exc:
        raise SpecError(f"{where}: {exc}", "Use a valid pretrained tag or none.") from exc
    default_size = int(cfg.input_size[-1]) if cfg is not None else 224
    pooling = entry.get("pooling", "head")
    if pooling not in POOLINGS:
        raise SpecError(f"{where}: pooling {pooling!r} is unknown.", f"Use one of {', '.join(POOLINGS)}.")
    kwargs = {"num_classes": 0, **dict(entry.get("kwargs", {}))}
    checkpoint = Path(entry["checkpoint"]).expanduser()
    if not checkpoint.is_absolute():
        checkpoint = settings.weights_root / checkpoint
    for key in ("mean", "std"):
        values = entry.get(key)
        if values is not None and (len(values) != 3 or not all(isinstance(v, int | float) for v in values)):
            raise SpecError(
                f"{where}: '{key}' needs three numbers (R, G, B).", "E.g. mean = [0.485, 0.456, 0.406]."
            )
    try:
        return EncoderSpec(
            name=name,
            title=entry.get("title") or f"{name} (custom, {arch})",
            family="custom",
            library="timm",
            arch=arch,
            kwargs=kwargs,
            dim=entry.get("dim"),
            input_size=entry.get("input_size", default_size),
            resize=entry.get("resize"),
            interpolation=entry.get("interpolation", cfg.interpolation if cfg is not None else "bilinear"),
            mean=tuple(entry.get("mean") or (cfg.mean if cfg is not None else IMAGENET_MEAN)),
            std=tuple(entry.get("std") or (cfg.std if cfg is not None else IMAGENET_STD)),
            pooling=pooling,
            weight_files=(checkpoint.name,),
            checkpoint=str(checkpoint),
            wrapper_keys=tuple(entry.get("wrapper_keys", ("state_dict", "model"))),
            strip_prefixes=tuple(entry.get("strip_prefixes", ("module.",))),
            drop_keys=tuple(entry.get("drop_keys", ())),
            keep_prefix=entry.get("keep_prefix"),
            licence="as given by the checkpoint's author",
            notes=f"From config.toml; timm architecture {arch}.",
        )
    except SpecError as exc:
        raise SpecError(f"{where}: {exc.what}", "Fix the entry in config.toml.") from exc


def specs_from_settings(settings: Settings) -> list[EncoderSpec]:
    """The user's custom encoders (``settings.custom_encoders``) as specs; a bad entry raises SpecError."""
    specs: list[EncoderSpec] = []
    for index, entry in enumerate(settings.custom_encoders):
        spec = spec_from_entry(entry, settings, index)
        if any(s.name == spec.name for s in specs):
            raise SpecError(f"Two custom encoders are called {spec.name!r}.", "Give each a unique name.")
        specs.append(spec)
    return specs


def custom_name(entry: Any, index: int) -> str:
    """A name to show for a custom entry, even a broken one."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return (
        name.strip().lower() if isinstance(name, str) and re.match(r"^\s*\S", name) else f"custom-{index + 1}"
    )
