"""Owkin: Phikon (transformers ViT-B/16, iBOT) and Phikon-v2 (transformers DINOv2 ViT-L/16)."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.zoo.common import FM

register(
    EncoderSpec(
        name="phikon",
        title="Phikon (ViT-B/16, iBOT)",
        family=FM,
        library="transformers",
        arch="ViTModel",
        kwargs={"add_pooling_layer": False},
        dim=768,
        params_m=85.8,
        pooling="cls",
        prefix_tokens=1,
        hf_repo="owkin/phikon",
        weight_files=("model.safetensors", "pytorch_model.bin"),
        drop_keys=("pooler.*",),
        licence="HF tag 'other' (text unverified)",
        hf_config={
            "model_type": "vit",
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "image_size": 224,
            "patch_size": 16,
            "qkv_bias": True,
        },
        notes="last_hidden_state[:, 0]; the unused pooler is not built (add_pooling_layer=False).",
    )
)
register(
    EncoderSpec(
        name="phikon-v2",
        title="Phikon-v2 (ViT-L/16, DINOv2)",
        family=FM,
        library="transformers",
        arch="Dinov2Model",
        dim=1024,
        params_m=307.0,
        pooling="cls",
        prefix_tokens=1,
        hf_repo="owkin/phikon-v2",
        weight_files=("model.safetensors",),
        licence="Owkin non-commercial (LICENSE.pdf)",
        hf_config={
            "model_type": "dinov2",
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "mlp_ratio": 4,
            "image_size": 224,
            "patch_size": 16,
            "layerscale_value": 1e-5,
        },
        notes="last_hidden_state[:, 0]. Parameter count from the model card [unverified].",
    )
)
