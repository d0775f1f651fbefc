"""Owkin: Phikon (transformers ViT-B/16, iBOT) and Phikon-v2 (transformers DINOv2 ViT-L/16)."""

from __future__ import annotations

from mitoviz.encoders.zoo.common import transformers_spec

transformers_spec(
    "phikon", "Phikon (ViT-B/16, iBOT)", "ViTModel",
    {
        "model_type": "vit", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "image_size": 224, "patch_size": 16, "qkv_bias": True,
    },
    768, 85.8, 1, kwargs={"add_pooling_layer": False}, drop_keys=("pooler.*",),
    hf_repo="owkin/phikon", weight_files=("model.safetensors", "pytorch_model.bin"),
    licence="HF tag 'other' (text unverified)",
    notes="last_hidden_state[:, 0]; the unused pooler is not built (add_pooling_layer=False).",
)
transformers_spec(
    "phikon-v2", "Phikon-v2 (ViT-L/16, DINOv2)", "Dinov2Model",
    {
        "model_type": "dinov2", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
        "mlp_ratio": 4, "image_size": 224, "patch_size": 16, "layerscale_value": 1e-5,
    },
    1024, 307.0, 1,
    hf_repo="owkin/phikon-v2", weight_files=("model.safetensors",), licence="Owkin non-commercial (LICENSE.pdf)",
    notes="last_hidden_state[:, 0]. Parameter count from the model card [unverified].",
)
