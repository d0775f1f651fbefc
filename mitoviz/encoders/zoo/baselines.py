"""Encoders that need no downloaded weights, so a fresh install and CI compare real things.

- Randomly initialised ViT-S/16 and ResNet-50 (fixed seed): what the architecture alone gives, an
  honest floor for "how much does pretraining buy?". They see patches at 112 px, a quarter of the
  compute of 224 px, so the demo runs in minutes on a laptop CPU.
- Handcrafted stain, shape and texture features (``mitoviz.encoders.handcrafted``).
"""

from __future__ import annotations

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import EncoderSpec

RANDOM_SEED = 0
BASELINE_INPUT = 112

register(
    EncoderSpec(
        name="random-vits16",
        title="Random ViT-S/16 (untrained, random features)",
        family="random baseline",
        library="timm",
        arch="vit_small_patch16_224",
        kwargs={"num_classes": 0, "img_size": BASELINE_INPUT},
        input_size=BASELINE_INPUT,
        dim=384,
        params_m=21.61,  # 21.67 at 224 px; the position embedding is smaller at 112 px
        pooling="cls",
        prefix_tokens=1,
        needs_weights=False,
        seed=RANDOM_SEED,
        licence="none (no weights)",
        notes=f"timm's initialisation with torch seed {RANDOM_SEED}; no training. A floor, not a model.",
    )
)
register(
    EncoderSpec(
        name="random-resnet50",
        title="Random ResNet-50 (untrained, random features)",
        family="random baseline",
        library="timm",
        arch="resnet50",
        # timm zero-initialises each block's last BatchNorm, a training aid that leaves an untrained
        # network with almost no signal (balanced accuracy ~0.55 on the demo); plain He init gives ~0.67.
        kwargs={"num_classes": 0, "zero_init_last": False},
        input_size=BASELINE_INPUT,
        dim=2048,
        params_m=23.51,
        pooling="gap",
        needs_weights=False,
        seed=RANDOM_SEED,
        channels_last=True,
        licence="none (no weights)",
        notes=f"timm's initialisation with torch seed {RANDOM_SEED}; no training. A floor, not a model.",
    )
)
register(
    EncoderSpec(
        name="handcrafted",
        title="Handcrafted stain, shape and texture features",
        family="handcrafted",
        library="handcrafted",
        arch="handcrafted-v1",
        kwargs={"size": 128},
        dim=69,
        input_size=128,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        pooling="none",
        needs_weights=False,
        licence="Apache-2.0 (mitoviz)",
        notes="Colour/optical-density and haematoxylin statistics of the centre vs a ring, shape of the dark "
        "central blob (area, axes, eccentricity, circularity, boundary irregularity) and texture "
        "(gradients, Laplacian, difference of Gaussians, coherence, radial profile, histograms).",
    )
)
