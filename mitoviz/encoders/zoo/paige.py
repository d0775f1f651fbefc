"""Paige: Virchow and Virchow2 (timm ViT-H/14 with SwiGLU; CLS + mean of the patch tokens)."""

from __future__ import annotations

from mitoviz.encoders.zoo.common import timm_spec

_VIRCHOW = {
    "img_size": 224, "init_values": 1e-5, "num_classes": 0, "mlp_ratio": 5.3375, "global_pool": "",
    "dynamic_img_size": True, "mlp_layer": "SwiGLUPacked", "act_layer": "SiLU",
}

timm_spec(
    "virchow", "Virchow (ViT-H/14)", "vit_huge_patch14_224", _VIRCHOW, 2560, 631.23, 1,
    pooling="cls+patch_mean", interpolation="bicubic",
    hf_repo="paige-ai/Virchow", weight_files=("pytorch_model.bin",), licence="Apache-2.0", gated=True,
    notes="Trained at 0.5 µm/px (20x). Embedding = CLS + mean of the 256 patch tokens (model card). "
    "Bicubic resize as published for Virchow2 [unverified for Virchow].",
)
timm_spec(
    "virchow2", "Virchow2 (ViT-H/14, 4 registers)", "vit_huge_patch14_224", {**_VIRCHOW, "reg_tokens": 4},
    2560, 631.24, 5, pooling="cls+patch_mean", interpolation="bicubic",
    hf_repo="paige-ai/Virchow2", weight_files=("model.safetensors", "pytorch_model.bin"),
    licence="CC-BY-NC-ND 4.0", gated=True,
    notes="Embedding = CLS + mean of tokens 5: (the 4 registers skipped), as on the model card; "
    "other benchmarks use CLS only or include the registers.",
)
