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



def _random(name: str, title: str, arch: str, kwargs: dict, dim: int, params_m: float, **fields: object) -> None:
    """An untrained timm network with a fixed seed, seeing patches at ``BASELINE_INPUT`` px."""
    register(
        EncoderSpec(
            name=name, title=f"{title} (untrained, random features)", family="random baseline", library="timm",
            arch=arch, kwargs=kwargs, input_size=BASELINE_INPUT, dim=dim, params_m=params_m, needs_weights=False,
            seed=RANDOM_SEED, licence="none (no weights)",
            notes=f"timm's initialisation with torch seed {RANDOM_SEED}; no training. A floor, not a model.",
            **fields,
        )
    )


# 21.61 M parameters: 21.67 at 224 px; the position embedding is smaller at 112 px.
_random(
    "random-vits16", "Random ViT-S/16", "vit_small_patch16_224", {"num_classes": 0, "img_size": BASELINE_INPUT},
    384, 21.61, pooling="cls", prefix_tokens=1,
)
# timm zero-initialises each block's last BatchNorm, a training aid that leaves an untrained network
# with almost no signal (balanced accuracy ~0.55 on the demo); plain He init gives ~0.67.
_random(
    "random-resnet50", "Random ResNet-50", "resnet50", {"num_classes": 0, "zero_init_last": False},
    2048, 23.51, pooling="gap", channels_last=True,
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
