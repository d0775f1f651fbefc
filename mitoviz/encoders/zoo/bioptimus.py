"""Bioptimus: H-optimus-0 and H-optimus-1 (timm ViT-g/14 with 4 registers, CLS) and H0-mini.

H0-mini (a ViT-B/14 with 4 registers distilled from H-optimus-0) is loaded as timm's ``hf-hub:`` loader
does: architecture, constructor arguments and preprocessing from the ``config.json`` published beside
its weights (``hub_config``), plus the arguments the model card passes (SwiGLU MLP, SiLU). The values
here are the reference for tests; its MLP width and normalisation statistics are [unverified] (H-optimus
statistics assumed), so the published config.json decides them at run time.
"""

from __future__ import annotations

from mitoviz.encoders.zoo.common import HOPT, timm_spec

for _name, _licence, _files in (
    ("h-optimus-0", "Apache-2.0", ("pytorch_model.bin",)),
    ("h-optimus-1", "unverified", ("model.safetensors", "pytorch_model.bin")),
):
    timm_spec(
        _name, f"{_name.replace('h-optimus', 'H-optimus')} (ViT-g/14, 4 registers)",
        "vit_giant_patch14_reg4_dinov2",
        {"img_size": 224, "num_classes": 0, "global_pool": "token", "init_values": 1e-5, "dynamic_img_size": False},
        1536, 1134.77, 5, **HOPT,
        hf_repo=f"bioptimus/{_name.replace('h-optimus', 'H-optimus')}", weight_files=_files, licence=_licence,
        gated=True, notes="Fixed 224 input; always built with img_size=224 (timm's default for the arch is 518).",
    )

_H0_PREPROCESS = {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 1.0, **HOPT}
timm_spec(
    "h0-mini", "H0-mini (ViT-B/14, 4 registers, distilled from H-optimus-0)", "vit_base_patch14_reg4_dinov2",
    {"img_size": 224, "num_classes": 0, "mlp_layer": "SwiGLUPacked", "act_layer": "SiLU", "dynamic_img_size": True},
    768, 71.57, 5, interpolation="bicubic", **HOPT, hub_config=True,
    hf_config={
        "architecture": "vit_base_patch14_reg4_dinov2",
        "model_args": {"img_size": 224, "init_values": 1e-5, "reg_tokens": 4, "global_pool": "token"},
        "pretrained_cfg": {k: list(v) if isinstance(v, tuple) else v for k, v in _H0_PREPROCESS.items()},
    },
    hf_repo="bioptimus/H0-mini", weight_files=("model.safetensors", "pytorch_model.bin"), gated=True,
    licence="unverified (gated, access on request)",
    notes="timm create_model('hf-hub:bioptimus/H0-mini', mlp_layer=SwiGLUPacked, act_layer=SiLU) rebuilt "
    "offline from its config.json; CLS (TRIDENT's default; CLS + patch mean is the alternative). "
    "Parameter count of the reference arguments [unverified].",
)
