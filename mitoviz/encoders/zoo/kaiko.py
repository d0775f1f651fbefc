"""kaiko.ai: the Kaiko ViTs of "Towards large-scale training of pathology foundation models"."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import HALF, EncoderSpec
from mitoviz.encoders.zoo.common import FM

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

