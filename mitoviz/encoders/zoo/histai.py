"""HistAI: Hibou-B and Hibou-L.

The model card loads Hibou with ``trust_remote_code=True``. We never execute code shipped with weights:
Hibou is built with transformers' own ``Dinov2WithRegistersModel`` and loads only when its config and
keys fit that class exactly.
"""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.zoo.common import FM, HIB_MEAN, HIB_STD

for _name, _title, _repo, _dim, _params, _cfg, _gated in (
    (
        "hibou-b",
        "Hibou-B (ViT-B/14, 4 registers)",
        "histai/hibou-b",
        768,
        86.0,
        {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12},
        False,
    ),
    (
        "hibou-l",
        "Hibou-L (ViT-L/14, 4 registers)",
        "histai/hibou-L",
        1024,
        304.0,
        {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16},
        True,
    ),
):
    register(
        EncoderSpec(
            name=_name,
            title=_title,
            family=FM,
            library="transformers",
            arch="Dinov2WithRegistersModel",
            dim=_dim,
            params_m=_params,
            resize=224,
            interpolation="bicubic",
            mean=HIB_MEAN,
            std=HIB_STD,
            pooling="cls",
            prefix_tokens=5,
            hf_repo=_repo,
            weight_files=("model.safetensors",),
            licence="Apache-2.0",
            gated=_gated,
            hf_config={
                "model_type": "dinov2",
                "num_register_tokens": 4,
                "image_size": 224,
                "patch_size": 14,
                "mlp_ratio": 4,
                "layerscale_value": 1e-5,
                **_cfg,
            },
            notes="The model card loads Hibou with trust_remote_code=True; mitoviz never runs code shipped "
            "with weights and builds transformers' own Dinov2WithRegistersModel instead (pooler_output "
            "= CLS of the final layer norm). Loads only if config.json and every key fit.",
        )
    )

