"""Lunit's SSL benchmark models: ResNet-50 (Barlow Twins, MoCo v2, SwAV) and DINO ViT-S/16, S/8."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.zoo.common import LUNIT, SSL, timm_spec

_LUNIT = "https://github.com/lunit-io/benchmark-ssl-pathology"
_RELEASE = f"{_LUNIT}/releases/download/pretrained-weights/"

for _method, _label in (("bt", "Barlow Twins"), ("mocov2", "MoCo v2"), ("swav", "SwAV")):
    register(
        EncoderSpec(
            name=f"lunit-rn50-{_method}", title=f"Lunit ResNet-50 {_label}", family=SSL, library="torchvision",
            arch="ResNet", kwargs={"block": "Bottleneck", "layers": [3, 4, 6, 3]}, dim=2048, params_m=23.51,
            pooling="gap", **LUNIT, weight_files=(f"{_method}_rn50_ep200.torch",), url=_LUNIT,
            download_url=f"{_RELEASE}{_method}_rn50_ep200.torch", licence="Lunit non-commercial",
            channels_last=True,
            notes="torchvision ResNet-50 without fc, GAP of layer4. LUNIT stats are documented for the "
            "ViT-S models only; their use for the ResNets is [unverified].",
        )
    )
for _patch in (16, 8):
    timm_spec(
        f"lunit-vits{_patch}-dino", f"Lunit DINO ViT-S/{_patch}", f"vit_small_patch{_patch}_224",
        {"img_size": 224, "num_classes": 0}, 384, 21.67, 1, family=SSL, **LUNIT,
        weight_files=(f"dino_vit_small_patch{_patch}_ep200.torch",), url=_LUNIT,
        download_url=f"{_RELEASE}dino_vit_small_patch{_patch}_ep200.torch", licence="Lunit non-commercial",
    )
