"""Bioptimus: H-optimus-0 and H-optimus-1 (timm ViT-g/14 with 4 registers, CLS)."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.zoo.common import FM, HOPT_MEAN, HOPT_STD

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

