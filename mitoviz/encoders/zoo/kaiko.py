"""kaiko.ai: the Kaiko ViTs ("Towards large-scale training of pathology foundation models") and Midnight-12k.

Midnight-12k is a DINOv2 ViT-g/14 published for transformers (TRIDENT loads it with a plain
``AutoModel``; eva adds ``trust_remote_code=True``, which mitoviz never does): built as transformers'
own ``Dinov2Model`` from the published config.json, strictly. Its architecture values here are the
reference for tests [unverified: ViT-g/14 implied by 1536-d tokens]; the embedding is the model card's
classification embedding, CLS + mean of the patch tokens (3072-d; TRIDENT's README and THUNDER list
3072), at 224 px with mean = std = 0.5.
"""

from __future__ import annotations

from mitoviz.encoders.zoo.common import HALF_NORM, KAIKO_LICENCE, timm_spec, transformers_spec

_KAIKO = "https://github.com/kaiko-ai/towards_large_pathology_fms"
_RELEASE = f"{_KAIKO}/releases/download/0.0.1/"



def _kaiko(name: str, title: str, arch: str, dim: int, params_m: float, prefix: int, **fields: object) -> None:
    timm_spec(
        f"kaiko-{name}", title, arch, {"dynamic_img_size": True, "num_classes": 0}, dim, params_m, prefix,
        **HALF_NORM, weight_files=(f"{name}.pth",), url=_KAIKO, download_url=f"{_RELEASE}{name}.pth",
        licence=KAIKO_LICENCE, **fields,
    )


_kaiko("vits16", "Kaiko ViT-S/16", "vit_small_patch16_224", 384, 21.67, 1)
_kaiko("vits8", "Kaiko ViT-S/8", "vit_small_patch8_224", 384, 21.67, 1)
_kaiko("vitb16", "Kaiko ViT-B/16", "vit_base_patch16_224", 768, 85.80, 1)
_kaiko("vitb8", "Kaiko ViT-B/8", "vit_base_patch8_224", 768, 85.81, 1)
_kaiko(
    "vitl14", "Kaiko ViT-L/14 (4 registers)", "vit_large_patch14_reg4_dinov2", 1024, 304.37, 5,
    checkpoint_filter="timm_dinov2_original",
    notes="Built at timm's default 518 px (as hubconf.py does) and fed 224 with dynamic_img_size; "
    "the file is in DINOv2's original key layout, converted with timm's _convert_dinov2. "
    "304.37 M parameters at 518 px (303.23 M if it were built at 224).",
)

transformers_spec(
    "midnight-12k", "Midnight-12k (ViT-g/14, DINOv2; TCGA only)", "Dinov2Model",
    {
        "model_type": "dinov2", "hidden_size": 1536, "num_hidden_layers": 40, "num_attention_heads": 24,
        "mlp_ratio": 4, "use_swiglu_ffn": True, "image_size": 224, "patch_size": 14, "layerscale_value": 1e-5,
    },
    3072, 1134.77, 1, pooling="cls+patch_mean", **HALF_NORM,
    hf_repo="kaiko-ai/midnight", weight_files=("model.safetensors",),
    licence="MIT (Midnight-12k; the Midnight-92k models are restricted)",
    notes="CLS + mean of the patch tokens of last_hidden_state (model card's classification embedding; "
    "TRIDENT's default is CLS only, 1536-d). Resize + centre crop 224, mean = std = 0.5.",
)
