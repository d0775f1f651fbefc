"""HKUST: GPFM (a DINOv2-trained ViT-L/14, distilled from several pathology models).

Two published files: ``GPFM.pth`` of the GitHub release (the DINOv2 training checkpoint: the teacher's
``backbone.`` keys in block chunks, its ``dino_head``, a ``mask_token``) and the copy on Hugging Face
(``majiabo/GPFM``, used by TRIDENT). The ``dinov2_teacher`` converter does kaiko-ai/eva's published
conversion (``state_dict["teacher"]``, ``backbone.`` stripped, ``blocks.i.j`` → ``blocks.j``, ``mask_token``
and ``dino_head*`` dropped) and leaves a file already in timm's layout as it is; the load is strict.
"""

from __future__ import annotations

from mitoviz.encoders.zoo.common import IMAGENET, timm_spec

_GPFM = "https://github.com/birkhoffkiki/GPFM"

timm_spec(
    "gpfm", "GPFM (ViT-L/14, DINOv2-trained; HKUST)", "vit_large_patch14_dinov2",
    {"img_size": 224, "patch_size": 14, "init_values": 1e-5, "qkv_bias": True, "dynamic_img_size": True,
     "num_classes": 0},
    1024, 303.23, 1, interpolation="bicubic", **IMAGENET,
    hf_repo="majiabo/GPFM", weight_files=("GPFM.pth",), wrapper_keys=("teacher", "state_dict", "model"),
    checkpoint_filter="dinov2_teacher", url=_GPFM, download_url=f"{_GPFM}/releases/download/ckpt/GPFM.pth",
    licence="unverified",
    notes="CLS of the final normed tokens (timm's default pooling), 224 px, bicubic, ImageNet statistics "
    "(TRIDENT, eva). GitHub release md5 0dc7e345de84f385d09c8c782b4b3236 (eva).",
)
