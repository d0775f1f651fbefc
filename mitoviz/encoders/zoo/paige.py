"""Paige: Virchow and Virchow2 (timm ViT-H/14 with SwiGLU; CLS + mean of the patch tokens)."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.zoo.common import FM

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
