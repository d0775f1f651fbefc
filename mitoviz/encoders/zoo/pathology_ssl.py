"""Academic pathology SSL models: XCiT-S12/8 DINO (Nielsen et al.) and CTransPath."""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import HALF, EncoderSpec
from mitoviz.encoders.zoo.common import SSL

_SPARSAM = "https://github.com/IPMI-ICNS-UKE/sparsam"
for _tag in ("bm", "endo", "isic"):
    register(
        EncoderSpec(
            name=f"xcit-dino-{_tag}",
            title=f"XCiT-S12/8 DINO, '{_tag}' checkpoint (Nielsen et al.)",
            family=SSL,
            library="timm",
            arch="xcit_small_12_p8_224",
            kwargs={"num_classes": 0},
            dim=384,
            params_m=25.83,
            input_size=256,
            interpolation="nearest",
            mean=HALF,
            std=HALF,
            pooling="cls",
            prefix_tokens=1,
            weight_files=(f"pretrained_{_tag}.pt",),
            wrapper_keys=("teacher", "state_dict", "model"),
            keep_prefix="backbone.",
            checkpoint_filter="timm_xcit",
            url=f"{_SPARSAM} (models/pretrained_{_tag}.pt, Git LFS) or Zenodo record 10391339",
            licence="unverified",
            notes="Input scaled to -1…1 (x*2-1 = normalise with 0.5/0.5). Only the DINO wrapper's "
            "'backbone.' keys are kept; the projection head is discarded. Teacher vs student [unverified].",
        )
    )

register(
    EncoderSpec(
        name="ctranspath",
        title="CTransPath (Swin-T with conv stem)",
        family=SSL,
        library="timm",
        arch="swin_tiny_patch4_window7_224",
        kwargs={"img_size": 224, "num_classes": 0, "embed_layer": "ConvStem"},
        dim=768,
        params_m=27.52,
        pooling="patch_mean",
        prefix_tokens=0,
        weight_files=("ctranspath.pth",),
        checkpoint_filter="timm_swin",
        url="https://github.com/Xiyue-Wang/TransPath",
        licence="unverified",
        notes="Built with timm 1.x Swin and mitoviz's ConvStem (same parameter names as the original); the "
        "old timm 0.5.4 key layout of ctranspath.pth is converted by timm's own Swin checkpoint filter. "
        "Pooled output = mean of the final normed tokens, as the original with head = Identity.",
    )
)


