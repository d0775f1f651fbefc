"""General-purpose encoders: DINOv2 (LVD-142M) and the ImageNet ResNet-50 (full and CLAM's layer3 cut)."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.zoo.common import GENERAL

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
            family=GENERAL,
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
        family=GENERAL,
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
        family=GENERAL,
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

