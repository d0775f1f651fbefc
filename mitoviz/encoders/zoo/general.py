"""General-purpose encoders: DINOv2 (LVD-142M) and the ImageNet ResNet-50 (full and CLAM's layer3 cut)."""

from __future__ import annotations

from mitoviz.encoders.zoo.common import GENERAL, timm_spec

for _size, _label, _dim, _params in (
    ("small", "S", 384, 21.63),
    ("base", "B", 768, 85.72),
    ("large", "L", 1024, 303.23),
    ("giant", "g", 1536, 1134.77),
):
    timm_spec(
        f"dinov2-vit{_label.lower()}14", f"DINOv2 ViT-{_label}/14 (LVD-142M)", f"vit_{_size}_patch14_dinov2",
        {"img_size": 224, "num_classes": 0}, _dim, _params, 1, family=GENERAL, interpolation="bicubic",
        hf_repo=f"timm/vit_{_size}_patch14_dinov2.lvd142m", weight_files=("model.safetensors",),
        checkpoint_filter="timm_vit", licence="differs by revision: cc-by-nc-4.0 or apache-2.0 (see the model page)",
        notes="Published at 518 px; built at 224 and the position embedding resampled by timm's "
        "checkpoint filter (as timm does for pretrained=True, img_size=224).",
    )

for _name, _title, _kwargs, _dim, _params, _drop, _notes in (
    (
        "resnet50-imagenet", "ResNet-50 ImageNet (torchvision V1 weights)", {"num_classes": 0}, 2048, 23.51,
        ("fc.*",), "The ImageNet classifier (fc) in the file is not used.",
    ),
    (
        "resnet50-imagenet-layer3", "ResNet-50 ImageNet, truncated after layer3 (CLAM)",
        {"features_only": True, "out_indices": [3]}, 1024, 8.54, ("layer4.*", "fc.*"),
        "GAP of layer3 (1024 channels), as CLAM, UNI and TRIDENT use it.",
    ),
):
    timm_spec(
        _name, _title, "resnet50", _kwargs, _dim, _params, None, family=GENERAL, pooling="gap",
        hf_repo="timm/resnet50.tv_in1k", weight_files=("model.safetensors",), drop_keys=_drop,
        licence="BSD-3-Clause", channels_last=True, notes=_notes,
    )
