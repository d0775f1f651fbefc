"""The built-in encoder specs, one module per vendor or family; importing this package registers them.

Adding a published encoder is adding one spec to the module of its vendor (or a new module listed
below) and, when its checkpoint has its own key layout, one converter in ``weights/keys.py``.

Not here, on purpose (shared/reference/encoders_new.md):
- CONCH v1: needs the ``conch`` package (an open_clip fork); see ``mahmood.py``. CONCH v1.5 is here.
- GenBio-PathFM: its architecture does not fit timm as published. It is a DINOv3-style ViT-g (1536-d,
  40 blocks, 4 storage tokens, SwiGLU aligned to 64, no qkv bias) with RoPE positions, fed each RGB
  channel as a separate 1-channel image and concatenating the three CLS tokens (4608-d). timm 1.0.31's
  DINOv3 models (``eva.py``) have RoPE and 1-channel input, but whether their RoPE (period base,
  coordinate normalisation; timm drops the checkpoint's ``periods`` buffer and recomputes it), norms
  and key conversion reproduce GenBio's own model code exactly is not established by any source we
  have, and a mismatch would load strictly yet compute different features. mitoviz will not run
  GenBio's code, so it stays out until those arguments are published or verified.
- MUSK: needs its own package (BEiT-3 based, ``musk_large_patch16_384`` from ``musk.modeling``) and
  loads with ``fairscale``; no timm or transformers architecture reproduces it.
- Virchow2G, Virchow2G-mini, Atlas, RudolfV, PLUTO: weights not publicly released (or not found).
"""

from __future__ import annotations

# The import order is the listing order within a family.
# isort: off
from mitoviz.encoders.zoo import (  # noqa: F401  (imported to register their specs)
    mahmood,
    paige,
    microsoft,
    bioptimus,
    owkin,
    histai,
    kaiko,
    hkust,
    sophont,
    lunit,
    pathology_ssl,
    general,
    baselines,
)
# isort: on
