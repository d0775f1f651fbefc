"""Mahmood lab (Harvard/MGB): UNI and UNI2-h (timm ViTs, CLS)."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.zoo.common import FM

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
