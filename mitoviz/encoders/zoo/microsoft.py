"""Microsoft / Providence: the Prov-GigaPath tile encoder (timm ViT-g/16, CLS)."""

from __future__ import annotations

from mitoviz.encoders.zoo.common import timm_spec

timm_spec(
    "prov-gigapath", "Prov-GigaPath tile encoder (ViT-g/16)", "vit_giant_patch14_dinov2",
    {
        "img_size": 224, "in_chans": 3, "patch_size": 16, "embed_dim": 1536, "depth": 40, "num_heads": 24,
        "init_values": 1e-5, "mlp_ratio": 5.33334, "num_classes": 0,
    },
    1536, 1134.95, 1, resize=256, interpolation="bicubic",
    hf_repo="prov-gigapath/prov-gigapath", weight_files=("pytorch_model.bin",), gated=True,
    licence="conflicting: GitHub README Apache-2.0, HF page 'prov-gigapath-license (other)'",
    notes="Resize 256 bicubic, centre crop 224 (README); FMC resizes 224 without a crop.",
)
