"""The simulated scanner: stain concentrations to RGB (Beer–Lambert), blur, white point, gamma, noise."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from mitoviz.demo.parameters import Scanner


def to_rgb(rng: np.random.Generator, h: np.ndarray, e: np.ndarray, sc: Scanner) -> np.ndarray:
    """Beer–Lambert: concentrations × stain vectors → transmitted light, then the scanner's optics."""
    hv, ev = sc.stain_vectors()
    h_scale = sc.h_scale * rng.uniform(0.9, 1.1)
    e_scale = sc.e_scale * rng.uniform(0.9, 1.1)
    if sc.blur > 0:
        h, e = ndi.gaussian_filter(h, sc.blur), ndi.gaussian_filter(e, sc.blur)
    # (white · 10^-OD)^gamma in one exponential; the optics blur acts on the stain maps.
    k = np.float32(-math.log(10.0) * sc.gamma)
    rgb = np.empty((*h.shape, 3), np.float32)
    for c in range(3):
        od = h * np.float32(hv[c] * h_scale * k) + e * np.float32(ev[c] * e_scale * k)
        rgb[..., c] = np.exp(od + np.float32(0.015 * k)) * np.float32(sc.white[c] ** sc.gamma)
    rgb += np.float32(sc.noise) * rng.standard_normal(rgb.shape, dtype=np.float32)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
