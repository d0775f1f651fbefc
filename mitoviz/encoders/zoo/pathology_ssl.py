"""Academic pathology SSL models: XCiT-S12/8 DINO (Nielsen et al.) and CTransPath."""

from __future__ import annotations

from mitoviz.encoders.zoo.common import HALF_NORM, SSL, timm_spec

_SPARSAM = "https://github.com/IPMI-ICNS-UKE/sparsam"
for _tag in ("bm", "endo", "isic"):
    timm_spec(
        f"xcit-dino-{_tag}", f"XCiT-S12/8 DINO, '{_tag}' checkpoint (Nielsen et al.)", "xcit_small_12_p8_224",
        {"num_classes": 0}, 384, 25.83, 1, family=SSL, input_size=256, interpolation="nearest", **HALF_NORM,
        weight_files=(f"pretrained_{_tag}.pt",), wrapper_keys=("teacher", "state_dict", "model"),
        keep_prefix="backbone.", checkpoint_filter="timm_xcit",
        url=f"{_SPARSAM} (models/pretrained_{_tag}.pt, Git LFS) or Zenodo record 10391339", licence="unverified",
        notes="Input scaled to -1…1 (x*2-1 = normalise with 0.5/0.5). Only the DINO wrapper's "
        "'backbone.' keys are kept; the projection head is discarded. Teacher vs student [unverified].",
    )

timm_spec(
    "ctranspath", "CTransPath (Swin-T with conv stem)", "swin_tiny_patch4_window7_224",
    {"img_size": 224, "num_classes": 0, "embed_layer": "ConvStem"}, 768, 27.52, 0, family=SSL,
    pooling="patch_mean", weight_files=("ctranspath.pth",), checkpoint_filter="timm_swin",
    url="https://github.com/Xiyue-Wang/TransPath", licence="unverified",
    notes="Built with timm 1.x Swin and mitoviz's ConvStem (same parameter names as the original); the "
    "old timm 0.5.4 key layout of ctranspath.pth is converted by timm's own Swin checkpoint filter. "
    "Pooled output = mean of the final normed tokens, as the original with head = Identity.",
)
