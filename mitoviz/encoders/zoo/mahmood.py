"""Mahmood lab (Harvard/MGB): UNI, UNI2-h and CONCH v1.5's image tower.

CONCH v1.5 (TITAN's patch encoder) is rebuilt without its own package, as TRIDENT's ``CONCHVisionTower``
is described (shared/reference/encoders_new.md): a timm ViT-L/16 trunk (``init_values=1.0``), an
attentional pooler with one contrastive query (``d_model=768, context_dim=1024, n_head=8``) and a
LayerNorm(768), loaded strictly from ``pytorch_model_vision.bin`` with the published key names
``trunk.*``, ``attn_pool_contrast.*``, ``ln_contrast.*``. Unverified, and checked when the real file is
loaded (strictly, every key listed on a mismatch): that the trunk holds exactly timm's ViT-L/16 keys,
and the LayerNorm epsilons (PyTorch's default 1e-5 here). The trunk's position embedding is resampled
to 448 px if the file holds another grid, as TRIDENT does.

CONCH v1 is not here: it needs the ``conch`` package (an open_clip fork, a CoCa model whose image tower
ends in its own projection); rebuilding it would mean vendoring that code.
"""

from __future__ import annotations

from mitoviz.encoders.zoo.common import IMAGENET, MAHMOOD_LICENCE, timm_spec

_COMMON = {"init_values": 1e-5, "num_classes": 0, "dynamic_img_size": True}

timm_spec(
    "uni", "UNI (ViT-L/16)", "vit_large_patch16_224", {"img_size": 224, "patch_size": 16, **_COMMON},
    1024, 303.35, 1,
    hf_repo="MahmoodLab/UNI", weight_files=("pytorch_model.bin",), licence=MAHMOOD_LICENCE, gated=True,
    notes="Resize + centre crop 224, ImageNet normalisation (mahmoodlab/UNI README).",
)
timm_spec(
    "uni2-h", "UNI2-h (ViT-H/14, 8 registers)", "vit_giant_patch14_224",
    {
        "img_size": 224, "patch_size": 14, "depth": 24, "num_heads": 24, "embed_dim": 1536,
        "mlp_ratio": 2.66667 * 2, "no_embed_class": True, "mlp_layer": "SwiGLUPacked", "act_layer": "SiLU",
        "reg_tokens": 8, **_COMMON,
    },
    1536, 681.39, 9,
    hf_repo="MahmoodLab/UNI2-h", weight_files=("pytorch_model.bin",), licence=MAHMOOD_LICENCE, gated=True,
)
timm_spec(
    "conch-v1.5", "CONCH v1.5 (ViT-L/16 CoCa image tower, attention-pooled)", "vit_large_patch16_224",
    {"img_size": 448, "patch_size": 16, "init_values": 1.0, "num_classes": 0, "dynamic_img_size": True},
    768, 306.71, None, pooling="none", tower="conch_v15", input_size=448, **IMAGENET,
    hf_repo="MahmoodLab/conchv1_5", weight_files=("pytorch_model_vision.bin",), checkpoint_filter="conch_v15",
    licence="unverified (likely CC-BY-NC-ND 4.0, like the lab's other models)", gated=True,
    notes="Embedding = ln_contrast(attn_pool_contrast(trunk tokens)[:, 0]), 768-d, as TRIDENT's "
    "CONCHVisionTower; 448 px input, Resize + centre crop, bilinear, ImageNet statistics. No features of "
    "single blocks: the attention pool is trained on the last block only.",
)
