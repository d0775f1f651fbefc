"""Sophont / MedARC: OpenMidnight and OpenMidnight-1.1 (open re-trainings of Midnight, ViT-g/14).

OpenMidnight ships ``teacher_checkpoint_load.pt``, the state dict of DINOv2's ``dinov2_vitg14_reg``
(TRIDENT builds that hub model and loads the file strictly after taking its ``pos_embed``). mitoviz builds
timm's equivalent ``vit_giant_patch14_reg4_dinov2`` at 224 px and converts the file with timm's own filter
(DINOv2 register layout → timm, ``mask_token`` dropped, the position embedding resampled if it is not
16×16); the embedding is the normed CLS, which the DINOv2 hub model returns. Preprocessing as TRIDENT:
resize to 224×224, bilinear, ImageNet statistics.

OpenMidnight-1.1 is published for timm's ``hf-hub:`` loader (the card pins timm 1.0.30): its architecture
and preprocessing come from the published config.json (``hub_config``; the values here are the reference
for tests [unverified]); the embedding is ``forward_features(x)[:, 0]``, the normed CLS.
"""

from __future__ import annotations

from mitoviz.encoders.zoo.common import IMAGENET, timm_spec

timm_spec(
    "openmidnight", "OpenMidnight (ViT-g/14, 4 registers; Sophont)", "vit_giant_patch14_reg4_dinov2",
    {"img_size": 224, "num_classes": 0}, 1536, 1134.77, 5, **IMAGENET,
    hf_repo="SophontAI/OpenMidnight", weight_files=("teacher_checkpoint_load.pt",), checkpoint_filter="timm_vit",
    licence="Apache-2.0", gated=True,
    notes="Gated with institutional-email approval. The file is DINOv2's own layout (register_tokens, "
    "mlp.w12/w3, mask_token), converted by timm's ViT checkpoint filter.",
)

_PREPROCESS = {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 1.0}
timm_spec(
    "openmidnight-1.1", "OpenMidnight-1.1 (ViT-g/14; MedARC + Sophont)", "vit_giant_patch14_reg4_dinov2",
    {"num_classes": 0}, 1536, 1134.77, None, interpolation="bicubic", **IMAGENET, hub_config=True,
    hf_config={
        "architecture": "vit_giant_patch14_reg4_dinov2",
        "model_args": {"img_size": 224, "init_values": 1e-5, "reg_tokens": 4},
        "pretrained_cfg": {**_PREPROCESS, **{k: list(v) for k, v in IMAGENET.items()}},
    },
    hf_repo="medarc/OpenMidnight-1.1", weight_files=("model.safetensors", "pytorch_model.bin"),
    licence="unverified",
    notes="Architecture, input size, interpolation and statistics from its timm config.json (the card: "
    "'configuration supplies bicubic resizing'); CLS of forward_features.",
)
