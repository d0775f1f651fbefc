"""HistAI: Hibou-B and Hibou-L.

The model card loads Hibou with ``trust_remote_code=True``. We never execute code shipped with weights:
Hibou is built with transformers' own ``Dinov2WithRegistersModel`` and loads only when its config and
keys fit that class exactly.
"""

from __future__ import annotations

from mitoviz.encoders.zoo.common import HIBOU, transformers_spec

for _size, _repo, _dim, _params, _depth, _heads, _gated in (
    ("B", "histai/hibou-b", 768, 86.0, 12, 12, False),
    ("L", "histai/hibou-L", 1024, 304.0, 24, 16, True),
):
    transformers_spec(
        f"hibou-{_size.lower()}", f"Hibou-{_size} (ViT-{_size}/14, 4 registers)", "Dinov2WithRegistersModel",
        {
            "model_type": "dinov2", "num_register_tokens": 4, "image_size": 224, "patch_size": 14, "mlp_ratio": 4,
            "layerscale_value": 1e-5, "hidden_size": _dim, "num_hidden_layers": _depth, "num_attention_heads": _heads,
        },
        _dim, _params, 5, resize=224, interpolation="bicubic", **HIBOU,
        hf_repo=_repo, weight_files=("model.safetensors",), licence="Apache-2.0", gated=_gated,
        notes="The model card loads Hibou with trust_remote_code=True; mitoviz never runs code shipped "
        "with weights and builds transformers' own Dinov2WithRegistersModel instead (pooler_output "
        "= CLS of the final layer norm). Loads only if config.json and every key fit.",
    )
