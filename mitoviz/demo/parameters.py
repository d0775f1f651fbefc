"""The demo set's parameters: simulated scanners and tumour types, cell mixes and fixed constants.

Changing a number here changes every generated image; the pixel checksum test says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MPP = 0.25
PX_PER_CM = 10_000 / MPP
BOX_RADIUS = 25
CATEGORY_MITOTIC = 1
CATEGORY_IMPOSTER = 2
CATEGORIES = (
    {"id": CATEGORY_MITOTIC, "name": "mitotic figure"},
    {"id": CATEGORY_IMPOSTER, "name": "not mitotic figure"},
)
TILE = 256
MIN_IMAGE_SIZE = 256
MIN_CELL_DISTANCE = 44
EXCLUSION = 26
STROMA_E = 0.30
STROMA_H = 0.04
MITOTIC_SHARE = 0.4
CELLS_PER_MPX = (40, 60)

# Ruifrok–Johnston optical-density vectors (skimage.color.rgb_from_hed), rows H and E.
RUIFROK_H = (0.65, 0.70, 0.29)
RUIFROK_E = (0.07, 0.99, 0.11)


@dataclass(frozen=True)
class Scanner:
    """A simulated scanner: a fixed colour and optics personality (one domain)."""

    name: str
    h_shift: tuple[float, float, float]
    e_shift: tuple[float, float, float]
    h_scale: float
    e_scale: float
    white: tuple[float, float, float]
    gamma: float
    blur: float
    noise: float
    jpeg_quality: int

    def stain_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit optical-density vectors of H and E: Ruifrok–Johnston, shifted in hue by this scanner."""
        h = np.add(RUIFROK_H, self.h_shift).astype(np.float32)
        e = np.add(RUIFROK_E, self.e_shift).astype(np.float32)
        return h / np.linalg.norm(h), e / np.linalg.norm(e)


@dataclass(frozen=True)
class Tumour:
    """A simulated tumour type: architecture, the second domain axis."""

    name: str
    species: str
    nucleus_axes: tuple[float, float]
    roundness: tuple[float, float]
    spacing: float
    stroma_fraction: float
    lumen_fraction: float
    cytoplasm: float
    cytoplasm_h: float
    chromatin: float
    imposter_mix: dict[str, float]


# fmt: off
SCANNERS: tuple[Scanner, ...] = (
    # light pink, like MIDOG 2021 crops
    Scanner(name="Simulated scanner A", h_shift=(-0.03, 0.02, 0.02), e_shift=(0.05, -0.04, 0.17),
            h_scale=0.78, e_scale=0.62, white=(0.97, 0.95, 0.97), gamma=0.95, blur=0.6, noise=0.010,
            jpeg_quality=92),
    # dark purple, like TUPAC16 crops
    Scanner(name="Simulated scanner B", h_shift=(-0.05, 0.05, -0.03), e_shift=(0.21, -0.07, 0.11),
            h_scale=1.35, e_scale=1.25, white=(0.92, 0.89, 0.95), gamma=1.15, blur=1.3, noise=0.018,
            jpeg_quality=72),
    # crisp, blue haematoxylin and orange-red eosin
    Scanner(name="Simulated scanner C", h_shift=(0.09, -0.07, -0.05), e_shift=(-0.02, -0.13, 0.39),
            h_scale=1.05, e_scale=0.95, white=(0.96, 0.95, 0.91), gamma=1.0, blur=0.9, noise=0.014,
            jpeg_quality=84),
)

TUMOURS: tuple[Tumour, ...] = (
    Tumour(name="synthetic breast carcinoma", species="Human", nucleus_axes=(14.0, 24.0),
           roundness=(0.62, 0.95), spacing=46.0, stroma_fraction=0.42, lumen_fraction=0.025, cytoplasm=0.30,
           cytoplasm_h=0.09, chromatin=0.42,
           imposter_mix={"pyknotic": 0.18, "irregular pyknotic": 0.12, "apoptotic body": 0.16,
                         "lymphocyte": 0.18, "hyperchromatic nucleus": 0.22, "granulocyte": 0.14}),
    Tumour(name="synthetic canine lymphoma", species="Canine", nucleus_axes=(13.0, 18.0),
           roundness=(0.85, 1.0), spacing=36.0, stroma_fraction=0.10, lumen_fraction=0.0, cytoplasm=0.24,
           cytoplasm_h=0.12, chromatin=0.52,
           imposter_mix={"pyknotic": 0.18, "irregular pyknotic": 0.14, "apoptotic body": 0.22,
                         "lymphocyte": 0.24, "hyperchromatic nucleus": 0.14, "granulocyte": 0.08}),
)
# fmt: on

MITOTIC_MIX: dict[str, float] = {
    "prophase": 0.14,
    "prometaphase": 0.22,
    "metaphase": 0.24,
    "anaphase": 0.10,
    "telophase": 0.10,
    "atypical": 0.10,
    "small or blurred mitosis": 0.10,
}
AMBIGUOUS_KINDS = frozenset({"irregular pyknotic", "small or blurred mitosis"})
RATER_SLIP = 0.04


@dataclass
class Cell:
    """An annotated cell of one image: centre, MIDOG category, what was drawn, and whether raters split."""

    x: int
    y: int
    category: int
    kind: str
    ambiguous: bool
