"""Synthetic demo data: a small MIDOG++-style data set in the real on-disk format.

The set lets a fresh install show every page without real data. It is rendered, not photographed:
tissue architecture and cells are drawn as haematoxylin and eosin concentration maps and turned into
RGB with Beer–Lambert, then passed through a simulated scanner (stain matrix, white point, gamma, blur,
noise, JPEG). Each image is a pyramidal tiled TIFF that OpenSlide opens, described by a MIDOG++ JSON
file and a ``datasets_xvalidation.csv`` scanner table, so it goes through the real MIDOG loader.
Every file says that it is synthetic.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image
from scipy import fft as sfft
from scipy import ndimage as ndi

from mitoviz.errors import SpecError, StorageError

DEMO_JSON = "MIDOG++-demo.json"
DEMO_SCANNERS_CSV = "datasets_xvalidation.csv"
DEMO_README = "README.txt"
IMAGES_DIR = "images"

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


SCANNERS: tuple[Scanner, ...] = (
    Scanner(  # light pink, like MIDOG 2021 crops
        name="Simulated scanner A",
        h_shift=(-0.03, 0.02, 0.02),
        e_shift=(0.05, -0.04, 0.17),
        h_scale=0.78,
        e_scale=0.62,
        white=(0.97, 0.95, 0.97),
        gamma=0.95,
        blur=0.6,
        noise=0.010,
        jpeg_quality=92,
    ),
    Scanner(  # dark purple, like TUPAC16 crops
        name="Simulated scanner B",
        h_shift=(-0.05, 0.05, -0.03),
        e_shift=(0.21, -0.07, 0.11),
        h_scale=1.35,
        e_scale=1.25,
        white=(0.92, 0.89, 0.95),
        gamma=1.15,
        blur=1.3,
        noise=0.018,
        jpeg_quality=72,
    ),
    Scanner(  # crisp, blue haematoxylin and orange-red eosin
        name="Simulated scanner C",
        h_shift=(0.09, -0.07, -0.05),
        e_shift=(-0.02, -0.13, 0.39),
        h_scale=1.05,
        e_scale=0.95,
        white=(0.96, 0.95, 0.91),
        gamma=1.0,
        blur=0.9,
        noise=0.014,
        jpeg_quality=84,
    ),
)

TUMOURS: tuple[Tumour, ...] = (
    Tumour(
        name="synthetic breast carcinoma",
        species="Human",
        nucleus_axes=(14.0, 24.0),
        roundness=(0.62, 0.95),
        spacing=46.0,
        stroma_fraction=0.42,
        lumen_fraction=0.025,
        cytoplasm=0.30,
        cytoplasm_h=0.09,
        chromatin=0.42,
        imposter_mix={
            "pyknotic": 0.18,
            "irregular pyknotic": 0.12,
            "apoptotic body": 0.16,
            "lymphocyte": 0.18,
            "hyperchromatic nucleus": 0.22,
            "granulocyte": 0.14,
        },
    ),
    Tumour(
        name="synthetic canine lymphoma",
        species="Canine",
        nucleus_axes=(13.0, 18.0),
        roundness=(0.85, 1.0),
        spacing=36.0,
        stroma_fraction=0.10,
        lumen_fraction=0.0,
        cytoplasm=0.24,
        cytoplasm_h=0.12,
        chromatin=0.52,
        imposter_mix={
            "pyknotic": 0.18,
            "irregular pyknotic": 0.14,
            "apoptotic body": 0.22,
            "lymphocyte": 0.24,
            "hyperchromatic nucleus": 0.14,
            "granulocyte": 0.08,
        },
    ),
)

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
class _Cell:
    x: int
    y: int
    category: int
    kind: str
    ambiguous: bool


# --------------------------------------------------------------------------------------------- noise


def _spectrum(rng: np.random.Generator, size: int) -> np.ndarray:
    return sfft.rfft2(rng.standard_normal((size, size), dtype=np.float32))


def _filtered(spectrum: np.ndarray, gain: np.ndarray, size: int) -> np.ndarray:
    field = sfft.irfft2(spectrum * gain, s=(size, size)).astype(np.float32)
    field -= field.mean()
    field /= field.std() + 1e-8
    return field


@functools.lru_cache(maxsize=4)
def _gains(size: int) -> dict[str, np.ndarray]:
    """Fourier-domain filters of one image size: chromatin band-passes and four fibre directions."""
    fy = sfft.fftfreq(size).astype(np.float32)[:, None]
    fx = sfft.rfftfreq(size).astype(np.float32)[None, :]
    f2 = fx * fx + fy * fy

    def gauss(sigma: float, q: np.ndarray = f2) -> np.ndarray:
        return np.exp(np.float32(-2.0 * math.pi**2 * sigma**2) * q)

    gains = {
        "fine": gauss(0.7) - gauss(2.0),
        "coarse": gauss(1.8) - gauss(4.5),
        "grain": gauss(0.8) - gauss(6.0),
    }
    for k in range(4):
        theta = k * math.pi / 4
        along = fx * math.cos(theta) + fy * math.sin(theta)
        across2 = np.maximum(f2 - along * along, 0.0)
        gains[f"fibre{k}"] = gauss(15.0, along * along) * gauss(0.75, across2) * (1.0 - gauss(2.5, across2))
    for g in gains.values():
        g.setflags(write=False)
    return gains


def _smooth(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Unit-variance low-frequency noise, drawn at low resolution and interpolated."""
    f = 1
    while f < 16 and sigma / (2 * f) >= 3.0:
        f *= 2
    n = -(-size // f)
    field = ndi.gaussian_filter(rng.standard_normal((n, n), dtype=np.float32), sigma / f, mode="wrap")
    if f > 1:
        field = _upsample(field, size)
    field -= field.mean()
    field /= field.std() + 1e-8
    return field


# ------------------------------------------------------------------------------------------- shapes


def _soft_ellipse(
    dx: np.ndarray,
    dy: np.ndarray,
    a: float,
    b: float,
    theta: float,
    wobble: np.ndarray | None = None,
    edge: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased ellipse with a wavy outline: (mask 0-1, distance inside the border in px)."""
    c, s = math.cos(theta), math.sin(theta)
    u = (dx * c + dy * s) / a
    v = (-dx * s + dy * c) / b
    r = np.sqrt(u * u + v * v)
    border = 1.0
    if wobble is not None:
        c1, s1 = u / (r + 1e-6), v / (r + 1e-6)
        ck, sk = c1 * c1 - s1 * s1, 2 * c1 * s1
        for amp, phase in wobble:
            border = border + (amp * math.cos(phase)) * ck - (amp * math.sin(phase)) * sk
            ck, sk = ck * c1 - sk * s1, sk * c1 + ck * s1
    dist = (border - r) * (0.5 * (a + b))
    return np.clip(0.5 + dist / edge, 0.0, 1.0), dist


def _wobble(rng: np.random.Generator, amount: float, orders: int = 5) -> np.ndarray:
    amps = amount * rng.uniform(0.3, 1.0, orders) / np.arange(1, orders + 1) ** 0.7
    return np.stack([amps, rng.uniform(0, 2 * math.pi, orders)], axis=1)


def _strands(
    dx: np.ndarray,
    dy: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    angle: np.ndarray,
    length: np.ndarray,
    width: np.ndarray,
) -> np.ndarray:
    """Sum of elongated Gaussians: chromosome arms, lobes, fragments."""
    if len(cx) == 0:
        return np.zeros_like(dx)
    c = np.cos(angle)[:, None, None].astype(np.float32)
    s = np.sin(angle)[:, None, None].astype(np.float32)
    px = dx[None] - cx[:, None, None].astype(np.float32)
    py = dy[None] - cy[:, None, None].astype(np.float32)
    u = (px * c + py * s) / length[:, None, None].astype(np.float32)
    v = (-px * s + py * c) / width[:, None, None].astype(np.float32)
    return np.exp(-0.5 * (u * u + v * v)).sum(axis=0)


def _rot(x: np.ndarray, y: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(theta), math.sin(theta)
    return x * c - y * s, x * s + y * c


# ---------------------------------------------------------------------------------------- the image


@functools.lru_cache(maxsize=128)
def _grid(half: int) -> tuple[np.ndarray, np.ndarray]:
    dy, dx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    dy.setflags(write=False)
    dx.setflags(write=False)
    return dy, dx


def _upsample(field: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling by a whole factor, cropped to size × size."""
    f = -(-size // field.shape[0])
    big = Image.fromarray(np.ascontiguousarray(field, dtype=np.float32)).resize(
        (field.shape[1] * f, field.shape[0] * f), Image.Resampling.BILINEAR
    )
    return np.array(big, dtype=np.float32)[:size, :size]


class _Canvas:
    """Haematoxylin and eosin concentration maps plus shared texture fields of one image."""

    def __init__(self, size: int, h: np.ndarray, e: np.ndarray, fine: np.ndarray, coarse: np.ndarray):
        self.size = size
        self.h = h
        self.e = e
        self.fine = fine
        self.coarse = coarse

    def window(self, x: int, y: int, half: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
        """The image slice around (x, y), clipped at the border, and pixel offsets from (x, y)."""
        x0, x1 = max(0, x - half), min(self.size, x + half + 1)
        y0, y1 = max(0, y - half), min(self.size, y + half + 1)
        dy, dx = _grid(half)
        local = (slice(y0 - y + half, y1 - y + half), slice(x0 - x + half, x1 - x + half))
        return (slice(y0, y1), slice(x0, x1)), dx[local], dy[local]

    def stamp(
        self,
        sl: tuple[slice, slice],
        h: np.ndarray,
        body: np.ndarray | None = None,
        body_e: np.ndarray | None = None,
        e_mult: np.ndarray | None = None,
        body_h: float = 0.0,
    ) -> None:
        """Composite one cell: its body replaces the tissue beneath, its stains add on top."""
        hw, ew = self.h[sl], self.e[sl]
        if body is not None:
            hw *= 1.0 - body
            hw += body_h * body
            ew *= 1.0 - body
            if body_e is not None:
                ew += body * body_e
        hw += h
        if e_mult is not None:
            ew *= e_mult


def _layout(rng: np.random.Generator, size: int, tumour: Tumour) -> dict[str, np.ndarray]:
    """Low-frequency maps: tumour nests vs stroma, retraction gaps, lumens, fibre orientation."""
    scale = size / 1024
    nests = _smooth(rng, size, 70 * max(scale, 0.5)) + 0.18 * _smooth(rng, size, 12)
    threshold = np.quantile(nests, tumour.stroma_fraction)
    tumour_mask = np.clip((nests - threshold) * 12.0 + 0.5, 0.0, 1.0)
    gap_noise = _smooth(rng, size, 20)
    band = np.exp(-(((nests - threshold) / 0.06) ** 2))
    gaps = np.clip(band * (gap_noise - 0.45) * 2.0, 0.0, 1.0)
    lumens = np.zeros_like(nests)
    if tumour.lumen_fraction > 0:
        holes = _smooth(rng, size, 22)
        holes = holes * tumour_mask
        cut = np.quantile(holes, 1.0 - tumour.lumen_fraction)
        lumens = np.clip((holes - cut) * 8.0, 0.0, 1.0)
    orient = _smooth(rng, size, 90) * 1.4
    drift = _smooth(rng, size, 120)
    return {
        "tumour": tumour_mask,
        "gaps": gaps,
        "lumens": lumens,
        "orient": orient,
        "drift": drift,
    }


def _fibres(rng: np.random.Generator, size: int, lay: dict[str, np.ndarray]) -> np.ndarray:
    """Wavy collagen texture: directional noises blended by a smooth orientation field, then warped.

    Drawn at half resolution (the fibres are smooth across a few pixels) and interpolated.
    """
    n = -(-size // 2)
    spectrum = _spectrum(rng, n)
    gains = _gains(n)
    orient = lay["orient"][::2, ::2]
    out = np.zeros((n, n), np.float32)
    weights = np.zeros_like(out)
    for k in range(4):
        w = (0.5 + 0.5 * np.cos(2.0 * (orient - k * math.pi / 4))) ** 3
        out += w * _filtered(spectrum, gains[f"fibre{k}"], n)
        weights += w
    out /= weights + 1e-6
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    wy = yy + 2.5 * _smooth(rng, n, 8)
    wx = xx + 2.5 * _smooth(rng, n, 8)
    out = ndi.map_coordinates(out, [wy, wx], order=1, mode="reflect")
    return np.tanh(_upsample(out, size) * 1.2)


def _place_points(
    rng: np.random.Generator, size: int, spacing: float, keep: np.ndarray, margin: int = 0
) -> np.ndarray:
    """Jittered grid points (x, y) where a random draw falls under ``keep`` (a 0-1 map)."""
    rows, cols = int(size / (spacing * 0.87)) + 3, int(size / spacing) + 3
    gy, gx = np.mgrid[-1 : rows - 1, -1 : cols - 1].astype(np.float32)
    gx = (gx + (gy % 2) * 0.5) * spacing + rng.uniform(-0.3, 0.3, gx.shape) * spacing
    gy = gy * spacing * 0.87 + rng.uniform(-0.3, 0.3, gy.shape) * spacing
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    inside = (pts >= margin).all(axis=1) & (pts < size - margin).all(axis=1)
    pts = pts[inside]
    xi = np.clip(pts[:, 0].astype(int), 0, size - 1)
    yi = np.clip(pts[:, 1].astype(int), 0, size - 1)
    pts = pts[rng.uniform(0, 1, len(pts)) < keep[yi, xi]]
    return np.round(pts).astype(int)


def _place_cells(rng: np.random.Generator, size: int, count: int, tumour_mask: np.ndarray) -> np.ndarray:
    """Annotated cell centres: mostly in tumour, apart from each other, some near the border."""
    points: list[tuple[int, int]] = []
    tries = 0
    while len(points) < count and tries < count * 200:
        tries += 1
        if rng.uniform() < 0.06:
            along, off = rng.integers(0, size), rng.integers(0, 20)
            side = rng.integers(0, 4)
            x, y = [(off, along), (size - 1 - off, along), (along, off), (along, size - 1 - off)][side]
        else:
            x, y = rng.integers(0, size, 2)
        if rng.uniform() > 0.2 + 0.8 * tumour_mask[y, x]:
            continue
        if any((x - px) ** 2 + (y - py) ** 2 < MIN_CELL_DISTANCE**2 for px, py in points):
            continue
        points.append((int(x), int(y)))
    return np.array(points, dtype=int).reshape(-1, 2)


def _tissue(
    rng: np.random.Generator, size: int, tumour: Tumour, cells: np.ndarray, lay: dict[str, np.ndarray]
) -> _Canvas:
    """Stroma, tumour cytoplasm with cell borders, and the unannotated crowd of nuclei."""
    tmask = lay["tumour"]
    fibres = _fibres(rng, size, lay)
    tex = _spectrum(rng, size)
    gains = _gains(size)
    fine = _filtered(tex, gains["fine"], size)
    coarse = _filtered(tex, gains["coarse"], size)
    grain = _filtered(_spectrum(rng, size), gains["grain"], size)

    nuclei = _place_points(rng, size, tumour.spacing, tmask * (1.0 - lay["lumens"]), margin=-10)
    if len(cells):
        d2 = ((nuclei[:, None, :] - cells[None, :, :]) ** 2).sum(-1).min(axis=1)
        nuclei = nuclei[d2 > EXCLUSION**2]
    # Cell territories (Voronoi, at half resolution): faint borders and a per-cell cytoplasm tone.
    n = -(-size // 2)
    seeds = np.zeros((n, n), bool)
    for x, y in np.concatenate([nuclei, cells]) // 2:
        if 0 <= x < n and 0 <= y < n:
            seeds[y, x] = True
    idx = ndi.distance_transform_edt(~seeds, return_distances=False, return_indices=True)
    owner = idx[0] * n + idx[1]
    border = (owner != np.roll(owner, 1, 0)) | (owner != np.roll(owner, 1, 1))
    border = _upsample(ndi.gaussian_filter(border.astype(np.float32), 0.5), size)
    shade = _upsample(rng.uniform(0.75, 1.25, n * n).astype(np.float32)[owner], size)
    cyt = tumour.cytoplasm * shade * (1.0 + 0.2 * grain) * (1.0 + 0.5 * border)
    bundles = _smooth(rng, size, 24)
    loose = np.clip(bundles - 0.4, 0.0, 1.0)
    spaces = 1.0 - loose * np.clip((-0.9 - fibres) / 0.1, 0.0, 1.0)
    stroma = (
        STROMA_E
        * (1.0 + 0.15 * lay["drift"] + 0.12 * bundles)
        * (0.82 + 0.22 * fibres)
        * (0.4 + 0.6 * spaces)
    )
    e = tmask * cyt + (1.0 - tmask) * stroma
    h = (tumour.cytoplasm_h * (1.0 + 0.3 * grain) * shade) * tmask + STROMA_H * (1.0 - tmask) * spaces
    canvas = _Canvas(size, h.astype(np.float32), e.astype(np.float32), fine, coarse)

    for x, y in nuclei:
        _ordinary_nucleus(rng, canvas, int(x), int(y), tumour)
    stromal = _place_points(rng, size, 52.0, (1.0 - tmask) * 0.35, margin=-10)
    if len(cells) and len(stromal):
        d2 = ((stromal[:, None, :] - cells[None, :, :]) ** 2).sum(-1).min(axis=1)
        stromal = stromal[d2 > EXCLUSION**2]
    for x, y in stromal:
        if rng.uniform() < 0.8:
            _fibroblast(
                rng,
                canvas,
                int(x),
                int(y),
                float(lay["orient"][min(max(y, 0), size - 1), min(max(x, 0), size - 1)]),
            )
        else:
            _lymphocyte(rng, canvas, int(x), int(y), unannotated=True)
    clear = 1.0 - np.maximum(lay["gaps"], lay["lumens"])
    canvas.h *= clear
    canvas.e *= clear
    return canvas


# ---------------------------------------------------------------------------------- ordinary cells


def _ordinary_nucleus(rng: np.random.Generator, cv: _Canvas, x: int, y: int, tumour: Tumour) -> None:
    a = rng.uniform(*tumour.nucleus_axes)
    b = a * rng.uniform(*tumour.roundness)
    half = int(a + 4)
    sl, dx, dy = cv.window(x, y, half)
    mask, dist = _soft_ellipse(dx, dy, a, b, rng.uniform(0, math.pi), _wobble(rng, 0.05), edge=1.1)
    density = tumour.chromatin * rng.uniform(0.75, 1.3)
    chrom = density * np.clip(0.6 + 0.25 * cv.fine[sl] + 0.35 * cv.coarse[sl], 0.12, None)
    rim = 0.6 * density * np.exp(-(((dist - 1.6) / 1.3) ** 2))
    h = mask * (chrom + rim)
    nucleoli = rng.integers(0, 3)
    for _ in range(nucleoli):
        r = rng.uniform(0, 0.45) * b
        t = rng.uniform(0, 2 * math.pi)
        nx, ny = r * math.cos(t), r * math.sin(t)
        spot = np.exp(-0.5 * ((dx - nx) ** 2 + (dy - ny) ** 2) / rng.uniform(1.6, 2.6) ** 2)
        h = h + 0.45 * spot * mask
    cv.stamp(sl, h.astype(np.float32), e_mult=(1.0 - 0.45 * mask).astype(np.float32))


def _fibroblast(rng: np.random.Generator, cv: _Canvas, x: int, y: int, theta: float) -> None:
    a = rng.uniform(12, 22)
    b = rng.uniform(2.5, 4.5)
    sl, dx, dy = cv.window(x, y, int(a + 3))
    mask, _ = _soft_ellipse(dx, dy, a, b, theta + rng.normal(0, 0.15), _wobble(rng, 0.05), edge=1.0)
    h = mask * rng.uniform(0.55, 0.9) * np.clip(1.0 + 0.3 * cv.fine[sl], 0.3, None)
    cv.stamp(sl, h.astype(np.float32), e_mult=(1.0 - 0.3 * mask).astype(np.float32))


def _lymphocyte(rng: np.random.Generator, cv: _Canvas, x: int, y: int, unannotated: bool = False) -> None:
    r = rng.uniform(11.5, 15.0)
    sl, dx, dy = cv.window(x, y, int(r + 6))
    mask, dist = _soft_ellipse(
        dx, dy, r, r * rng.uniform(0.85, 1.0), rng.uniform(0, math.pi), _wobble(rng, 0.04), edge=1.0
    )
    body, _ = _soft_ellipse(dx, dy, r + 2.5, r + 2.0, 0.0, _wobble(rng, 0.05), edge=1.2)
    dense = rng.uniform(0.85, 1.2)
    chrom = dense * np.clip(0.8 + 0.3 * cv.coarse[sl] + 0.15 * cv.fine[sl], 0.35, None)
    rim = 0.35 * np.exp(-(((dist - 1.2) / 1.0) ** 2))
    h = mask * (chrom + rim)
    body_e = np.full_like(dx, 0.16)
    cv.stamp(
        sl,
        h.astype(np.float32),
        body=body.astype(np.float32) * (0.6 if unannotated else 1.0),
        body_e=body_e,
        body_h=0.12,
    )


# ---------------------------------------------------------------------------------- mitotic figures


def _mitotic_body(
    rng: np.random.Generator, dx: np.ndarray, dy: np.ndarray, cyt: float, elongate: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """A rounded-up cell with pale, clear cytoplasm."""
    r = rng.uniform(20, 27)
    body, _ = _soft_ellipse(dx, dy, r * elongate, r, 0.0, _wobble(rng, 0.06), edge=4.0)
    return body, np.full_like(dx, cyt * rng.uniform(0.35, 0.8))


def _plate(
    rng: np.random.Generator, n: int, length: float, thickness: float, cx: float = 0.0, cy: float = 0.0
) -> tuple[np.ndarray, ...]:
    """Chromosomes of a metaphase plate along the x axis, arms pointing across it."""
    t = rng.uniform(-0.5, 0.5, n) * length
    off = rng.normal(0, thickness * 0.25, n) + 0.04 * (t**2) / max(length, 1) * rng.choice([-1, 1])
    ang = math.pi / 2 + rng.normal(0, 0.45, n)
    return (t + cx, off + cy, ang, rng.uniform(1.8, 4.2, n), rng.uniform(1.3, 2.0, n))


def _cluster(
    rng: np.random.Generator, n: int, radius: float, cx: float = 0.0, cy: float = 0.0, spiky: bool = True
) -> tuple[np.ndarray, ...]:
    """Condensed chromosomes in a compact clump; arms point outwards when ``spiky``."""
    rad = radius * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, 2 * math.pi, n)
    px, py = rad * np.cos(phi), rad * np.sin(phi)
    ang = phi + rng.normal(0, 0.7, n) if spiky else rng.uniform(0, math.pi, n)
    return (px + cx, py + cy, ang, rng.uniform(1.8, 4.5, n), rng.uniform(1.3, 2.0, n))


def _join(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(5))


def _rotate_parts(parts: tuple[np.ndarray, ...], theta: float) -> tuple[np.ndarray, ...]:
    x, y = _rot(parts[0], parts[1], theta)
    return (x, y, parts[2] + theta, parts[3], parts[4])


def _mitosis(rng: np.random.Generator, cv: _Canvas, x: int, y: int, kind: str, tumour: Tumour) -> None:
    half = 40
    sl, dx, dy = cv.window(x, y, half)
    theta = rng.uniform(0, math.pi)
    scale, gain, blur = 1.0, rng.uniform(0.9, 1.4), 0.0
    elongate = 1.0
    kind_drawn = kind
    if kind == "small or blurred mitosis":
        scale, gain, blur = rng.uniform(0.5, 0.72), rng.uniform(0.45, 0.75), rng.uniform(1.0, 2.2)
        kind_drawn = str(rng.choice(["metaphase", "prometaphase", "prophase"]))
    if kind_drawn == "prophase":
        parts = _cluster(rng, rng.integers(28, 44), rng.uniform(10, 15), spiky=False)
        parts = (parts[0], parts[1], parts[2], parts[3] * 1.2, parts[4] * 0.95)
        gain *= 0.6
    elif kind_drawn == "prometaphase":
        parts = _cluster(rng, rng.integers(24, 40), rng.uniform(6, 10))
    elif kind_drawn == "metaphase":
        parts = _plate(rng, rng.integers(26, 42), rng.uniform(30, 52), rng.uniform(7, 13))
    elif kind_drawn == "anaphase":
        gap = rng.uniform(16, 36) / 2
        n = int(rng.integers(16, 26))
        parts = _join(
            _plate(rng, n, rng.uniform(22, 40), rng.uniform(5, 9), cy=-gap),
            _plate(rng, n, rng.uniform(22, 40), rng.uniform(5, 9), cy=gap),
        )
        parts = _rotate_parts(parts, math.pi / 2)
        elongate = 1.25
    elif kind_drawn == "telophase":
        gap = rng.uniform(30, 46) / 2
        parts = _join(
            _cluster(rng, 20, rng.uniform(5, 8), cx=-gap), _cluster(rng, 20, rng.uniform(5, 8), cx=gap)
        )
        elongate = 1.5
    else:
        form = rng.choice(["multipolar", "lagging", "asymmetric"])
        if form == "multipolar":
            poles = int(rng.integers(3, 5))
            base = rng.uniform(0, 2 * math.pi)
            groups = []
            for k in range(poles):
                phi = base + 2 * math.pi * k / poles + rng.normal(0, 0.2)
                d = rng.uniform(8, 15)
                groups.append(
                    _cluster(
                        rng,
                        int(rng.integers(9, 16)),
                        rng.uniform(4, 7),
                        cx=d * math.cos(phi),
                        cy=d * math.sin(phi),
                    )
                )
            parts = _join(*groups)
        elif form == "lagging":
            gap = rng.uniform(14, 26) / 2
            lag = int(rng.integers(2, 5))
            parts = _join(
                _plate(rng, 18, rng.uniform(24, 36), 6, cy=-gap),
                _plate(rng, 18, rng.uniform(24, 36), 6, cy=gap),
                (
                    rng.normal(0, 6, lag),
                    rng.normal(0, 3, lag),
                    rng.uniform(0, math.pi, lag),
                    rng.uniform(2.5, 4.5, lag),
                    rng.uniform(1.1, 1.5, lag),
                ),
            )
            parts = _rotate_parts(parts, math.pi / 2)
            elongate = 1.25
        else:
            parts = _join(
                _plate(rng, int(rng.integers(20, 30)), rng.uniform(28, 44), 9),
                _cluster(rng, int(rng.integers(6, 12)), 5, cx=rng.uniform(-12, 12), cy=rng.uniform(9, 14)),
            )
    parts = _rotate_parts(parts, theta)
    parts = (parts[0] * scale, parts[1] * scale, parts[2], parts[3] * scale, parts[4] * max(scale, 0.8))
    bx, by = _rot(dx, dy, -theta)
    body, body_e = _mitotic_body(rng, bx, by, tumour.cytoplasm, elongate if scale == 1.0 else 1.0)
    if kind_drawn == "telophase":
        pinch = np.exp(-0.5 * (bx / 5.0) ** 2) * np.clip(np.abs(by) / 18.0, 0, 1)
        body = body * (1.0 - 0.9 * pinch)
    field = _strands(dx, dy, *parts)
    density = rng.uniform(1.8, 2.6)
    h = density * (1.0 - np.exp(-gain * field)) * np.clip(1.0 + 0.12 * cv.fine[sl], 0.5, None)
    if blur > 0:
        h = ndi.gaussian_filter(h, blur)
    halo = ndi.gaussian_filter(np.clip(field, 0, 1), 4.0 * max(scale, 0.7))
    halo = halo / (halo.max() + 1e-6)
    clear = rng.uniform(0.3, 0.9) * (1.0 if rng.uniform() < 0.75 else 0.2)
    body_e = body_e * (1.0 - clear * np.clip(halo * 2.2, 0, 1)) * np.clip(1.0 + 0.25 * cv.fine[sl], 0.3, None)
    cv.stamp(
        sl,
        h.astype(np.float32),
        body=body.astype(np.float32),
        body_e=body_e.astype(np.float32),
        body_h=tumour.cytoplasm_h * rng.uniform(0.5, 1.1),
    )


# ---------------------------------------------------------------------------------------- imposters


def _halo_body(
    rng: np.random.Generator,
    dx: np.ndarray,
    dy: np.ndarray,
    inner: float,
    outer: float,
    inner_e: float,
    outer_e: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A shrunken cell (``inner``) sitting in a clear retraction space (``outer``)."""
    body, _ = _soft_ellipse(
        dx, dy, outer, outer * rng.uniform(0.85, 1.0), rng.uniform(0, math.pi), _wobble(rng, 0.08), edge=2.0
    )
    core, _ = _soft_ellipse(
        dx, dy, inner, inner * rng.uniform(0.8, 1.0), rng.uniform(0, math.pi), _wobble(rng, 0.05), edge=1.2
    )
    return body, (inner_e * core + outer_e * (1 - core)).astype(np.float32)


def _imposter(rng: np.random.Generator, cv: _Canvas, x: int, y: int, kind: str, tumour: Tumour) -> None:
    if kind == "lymphocyte":
        _lymphocyte(rng, cv, x, y)
        return
    sl, dx, dy = cv.window(x, y, 34)
    cyt = tumour.cytoplasm
    theta = rng.uniform(0, math.pi)
    if kind in ("pyknotic", "irregular pyknotic"):
        irregular = kind == "irregular pyknotic"
        r = rng.uniform(6.5, 10.5) if not irregular else rng.uniform(7.5, 12.0)
        ratio = rng.uniform(0.85, 1.0) if not irregular else rng.uniform(0.45, 0.8)
        mask, _ = _soft_ellipse(
            dx,
            dy,
            r,
            r * ratio,
            theta,
            _wobble(rng, 0.16 if irregular else 0.03),
            edge=1.0 if irregular else 0.8,
        )
        dense = rng.uniform(1.7, 2.4)
        h = dense * mask * np.clip(1.0 + 0.06 * cv.fine[sl], 0.7, None)
        if irregular:
            n = int(rng.integers(4, 10))
            phi = rng.uniform(0, 2 * math.pi, n)
            rr = r * rng.uniform(0.75, 1.0, n)
            u, v = rr * np.cos(phi), rr * ratio * np.sin(phi)
            px, py = _rot(u, v, theta)
            arms = _strands(dx, dy, px, py, phi + theta, rng.uniform(2.0, 4.0, n), rng.uniform(1.0, 1.5, n))
            h = np.maximum(h, dense * (1.0 - np.exp(-1.2 * arms)))
            h = ndi.gaussian_filter(h, rng.uniform(0.3, 1.2))
        if rng.uniform() < 0.5:
            body, body_e = _halo_body(
                rng,
                dx,
                dy,
                r + rng.uniform(3, 8),
                r + rng.uniform(10, 18),
                cyt * rng.uniform(0.9, 1.4),
                cyt * rng.uniform(0.1, 0.6),
            )
        else:
            body, _ = _soft_ellipse(
                dx, dy, r + rng.uniform(8, 14), r + rng.uniform(7, 13), theta, _wobble(rng, 0.08), edge=2.0
            )
            body_e = np.full_like(dx, cyt * rng.uniform(0.8, 1.3))
    elif kind == "apoptotic body":
        r = rng.uniform(10, 17)
        body, body_e = _halo_body(
            rng, dx, dy, r, r + rng.uniform(5, 12), cyt * rng.uniform(1.5, 2.4), cyt * rng.uniform(0.1, 0.6)
        )
        n = int(rng.integers(1, 6))
        phi = rng.uniform(0, 2 * math.pi, n)
        rad = r * 0.55 * np.sqrt(rng.uniform(0, 1, n))
        fr = rng.uniform(2.5, 6.0, n)
        h = np.zeros_like(dx)
        for k in range(n):
            m, _ = _soft_ellipse(
                dx - rad[k] * math.cos(phi[k]),
                dy - rad[k] * math.sin(phi[k]),
                fr[k],
                fr[k] * rng.uniform(0.8, 1.0),
                0.0,
                None,
                edge=0.8,
            )
            h = np.maximum(h, rng.uniform(1.5, 2.3) * m)
    elif kind == "hyperchromatic nucleus":
        a = rng.uniform(*tumour.nucleus_axes)
        b = a * rng.uniform(*tumour.roundness)
        mask, dist = _soft_ellipse(dx, dy, a, b, theta, _wobble(rng, 0.09), edge=1.0)
        dense = rng.uniform(0.95, 1.5)
        chrom = dense * np.clip(0.75 + 0.3 * cv.coarse[sl] + 0.25 * cv.fine[sl], 0.3, None)
        rim = 0.5 * np.exp(-(((dist - 1.4) / 1.1) ** 2))
        h = mask * (chrom + rim)
        body, _ = _soft_ellipse(
            dx, dy, a + rng.uniform(6, 11), b + rng.uniform(6, 11), theta, _wobble(rng, 0.08), edge=2.0
        )
        body_e = np.full_like(dx, cyt * rng.uniform(0.8, 1.2)) * (1.0 - 0.45 * mask)
    else:  # granulocyte
        eosinophil = rng.uniform() < 0.35
        lobes = 2 if eosinophil else int(rng.integers(3, 5))
        arc = rng.uniform(0.6, 1.5)
        phi = theta + np.linspace(-arc, arc, lobes)
        rad = rng.uniform(5.0, 8.0)
        lx, ly = rad * np.cos(phi) - rad * math.cos(theta), rad * np.sin(phi) - rad * math.sin(theta)
        lr = rng.uniform(3.8, 5.8, lobes)
        h = np.zeros_like(dx)
        for k in range(lobes):
            m, _ = _soft_ellipse(
                dx - lx[k],
                dy - ly[k],
                lr[k],
                lr[k] * rng.uniform(0.75, 1.0),
                rng.uniform(0, math.pi),
                _wobble(rng, 0.05),
                edge=0.9,
            )
            h = np.maximum(h, rng.uniform(1.3, 1.9) * m)
        link = _strands(
            dx,
            dy,
            (lx[:-1] + lx[1:]) / 2,
            (ly[:-1] + ly[1:]) / 2,
            phi[:-1] + math.pi / 2,
            np.full(lobes - 1, 3.0),
            np.full(lobes - 1, 1.0),
        )
        h = np.maximum(h, 1.2 * np.clip(link, 0, 1))
        r = rng.uniform(14, 18)
        body, _ = _soft_ellipse(dx, dy, r, r * rng.uniform(0.85, 1.0), theta, _wobble(rng, 0.05), edge=1.5)
        granules = np.clip(1.0 + 0.5 * cv.fine[sl], 0.2, None)
        level = rng.uniform(1.3, 1.9) if eosinophil else rng.uniform(0.25, 0.45)
        body_e = (cyt * level * granules).astype(np.float32)
    cv.stamp(
        sl,
        h.astype(np.float32),
        body=body.astype(np.float32),
        body_e=body_e.astype(np.float32),
        body_h=tumour.cytoplasm_h * rng.uniform(0.6, 1.1),
    )


# ---------------------------------------------------------------------------------------- the scanner


def _to_rgb(rng: np.random.Generator, h: np.ndarray, e: np.ndarray, sc: Scanner) -> np.ndarray:
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


def render_image(
    rng: np.random.Generator, scanner: Scanner, tumour: Tumour, size: int
) -> tuple[np.ndarray, list[_Cell]]:
    """Render one synthetic region: an RGB array (size × size × 3) and its annotated cells."""
    lay = _layout(rng, size, tumour)
    per_image = rng.uniform(*CELLS_PER_MPX) * (size / 1024) ** 2
    centres = _place_cells(rng, size, max(4, round(per_image)), lay["tumour"] * (1.0 - lay["lumens"]))
    cv = _tissue(rng, size, tumour, centres, lay)
    cells: list[_Cell] = []
    mitotic_kinds, mitotic_p = list(MITOTIC_MIX), np.array(list(MITOTIC_MIX.values()))
    imposter_kinds = list(tumour.imposter_mix)
    imposter_p = np.array(list(tumour.imposter_mix.values()))
    for x, y in centres:
        if rng.uniform() < MITOTIC_SHARE:
            kind = str(rng.choice(mitotic_kinds, p=mitotic_p / mitotic_p.sum()))
            _mitosis(rng, cv, int(x), int(y), kind, tumour)
            category = CATEGORY_MITOTIC
        else:
            kind = str(rng.choice(imposter_kinds, p=imposter_p / imposter_p.sum()))
            _imposter(rng, cv, int(x), int(y), kind, tumour)
            category = CATEGORY_IMPOSTER
        ambiguous = kind in AMBIGUOUS_KINDS or rng.uniform() < RATER_SLIP
        cells.append(_Cell(int(x), int(y), category, kind, ambiguous))
    return _to_rgb(rng, cv.h, cv.e, scanner), cells


# ------------------------------------------------------------------------------------------ the files


def write_pyramid_tiff(path: Path, rgb: np.ndarray, quality: int, description: str = "") -> None:
    """Write a tiled JPEG TIFF with reduced levels as successive pages, the layout OpenSlide reads."""
    levels = [rgb]
    while len(levels) == 1 or max(levels[-1].shape[:2]) > TILE:
        prev = levels[-1]
        h, w = prev.shape[0] // 2, prev.shape[1] // 2
        q = prev[: 2 * h, : 2 * w].astype(np.uint16)
        down = q[0::2, 0::2] + q[1::2, 0::2] + q[0::2, 1::2] + q[1::2, 1::2]
        levels.append(((down + 2) // 4).astype(np.uint8))
    with tifffile.TiffWriter(path) as tif:
        for i, level in enumerate(levels):
            tif.write(
                level,
                tile=(TILE, TILE),
                photometric="rgb",
                compression="jpeg",
                compressionargs={"level": quality},
                subfiletype=1 if i else 0,
                resolution=(PX_PER_CM / 2**i, PX_PER_CM / 2**i),
                resolutionunit="CENTIMETER",
                description=description if i == 0 else None,
                metadata=None,
            )


def _votes(rng: np.random.Generator, cell: _Cell) -> list[int]:
    """Rater votes: two agree on clear cells; on ambiguous ones they split and a third decides."""
    if not cell.ambiguous:
        return [cell.category, cell.category]
    other = CATEGORY_IMPOSTER if cell.category == CATEGORY_MITOTIC else CATEGORY_MITOTIC
    first_two = [cell.category, other] if rng.uniform() < 0.5 else [other, cell.category]
    return [*first_two, cell.category]


def _test_images(seed: int, plan: list[tuple[int, Scanner, Tumour]]) -> set[int]:
    """A fixed ~20 % test split with at least one image per scanner, spread over tumour types."""
    rng = np.random.default_rng([seed, 7919])
    test: set[int] = set()
    for scanner in SCANNERS:
        mine = [(i, t) for i, s, t in plan if s is scanner]
        n_test = max(1, round(0.2 * len(mine))) if len(mine) > 1 else 0
        for j in range(n_test):
            tumour = TUMOURS[j % len(TUMOURS)]
            pool = [i for i, t in mine if t is tumour and i not in test] or [
                i for i, _ in mine if i not in test
            ]
            test.add(int(rng.choice(pool)))
    return test


def _render_one(
    seed: int, image_id: int, scanner: Scanner, tumour: Tumour, size: int, path: Path
) -> list[_Cell]:
    rng = np.random.default_rng([seed, image_id])
    rgb, cells = render_image(rng, scanner, tumour, size)
    text = f"mitoviz synthetic demo image {image_id:03d} ({scanner.name}, {tumour.name}): not real tissue"
    write_pyramid_tiff(path, rgb, scanner.jpeg_quality, text)
    return cells


def _readme(seed: int, images_per_domain: int, image_size: int, cells: list[_Cell], n_images: int) -> str:
    scanners = "\n".join(
        f"  - {s.name}: H scale {s.h_scale}, E scale {s.e_scale}, gamma {s.gamma}, blur sigma {s.blur} px, "
        f"noise {s.noise}, JPEG quality {s.jpeg_quality}"
        for s in SCANNERS
    )
    tumours = "\n".join(
        f"  - {t.name} ({t.species}): nucleus axes {t.nucleus_axes[0]:g}-{t.nucleus_axes[1]:g} px, "
        f"spacing {t.spacing:g} px, stroma fraction {t.stroma_fraction:g}"
        for t in TUMOURS
    )
    n_mf = sum(c.category == CATEGORY_MITOTIC for c in cells)
    kinds = Counter(c.kind for c in cells)
    kind_lines = "\n".join(f"  - {kind}: {kinds[kind]}" for kind in [*MITOTIC_MIX, *TUMOURS[0].imposter_mix])
    return f"""SYNTHETIC DEMO DATA - NOT REAL TISSUE

These images were rendered by mitoviz (mitoviz.data.synthetic.generate_demo) so that the dashboard
can be tried without any real data. Nothing here comes from a patient or an animal; do not use it to
draw conclusions about real encoders, scanners or tumours.

How it was made
- seed {seed}, {images_per_domain} image(s) per scanner and tumour type, {image_size} x {image_size} px
  at {MPP} um/px; {n_images} images, {n_mf} mitotic figures and {len(cells) - n_mf} imposters
  (look-alikes); {sum(c.ambiguous for c in cells)} cells in all are deliberately ambiguous.
- Tissue (stroma with oriented fibres, tumour cytoplasm, a crowd of ordinary nuclei) and annotated
  cells (mitotic figures in all phases, atypical forms; pyknotic nuclei, apoptotic bodies,
  lymphocytes, hyperchromatic nuclei, granulocytes) are drawn as haematoxylin and eosin
  concentration maps and turned into RGB with the Beer-Lambert law (Ruifrok-Johnston stain vectors,
  perturbed per scanner).
- Each simulated scanner has a fixed stain matrix, stain intensity, white point, gamma, blur,
  sensor noise and JPEG quality:
{scanners}
- Tumour types differ in architecture:
{tumours}
- Some cells are deliberately ambiguous; on those the two simulated raters disagree and a third
  vote decides (annotation 'labels' has three entries).
- Annotated cells by kind:
{kind_lines}

Files (the MIDOG++ layout)
- {DEMO_JSON}: MIDOG++-style JSON; bbox = [x-25, y-25, x+25, y+25] around the cell centre;
  category 1 = mitotic figure, 2 = not mitotic figure (imposter).
- {DEMO_SCANNERS_CSV}: ';'-separated Slide;Dataset;Tumor;Scanner;Origin;Species with a fixed
  train/test split.
- {IMAGES_DIR}/NNN.tiff: pyramidal tiled JPEG TIFFs (OpenSlide 'generic-tiff', {MPP} um/px).

Licence: CC0 1.0 (public domain dedication).
"""


def generate_demo(
    out_dir: Path,
    seed: int = 0,
    *,
    images_per_domain: int = 3,
    image_size: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the demo set into out_dir and return the path of its JSON file."""
    if images_per_domain < 1:
        raise SpecError(
            f"images_per_domain must be at least 1, got {images_per_domain}.",
            "Ask for one or more images per scanner and tumour type.",
        )
    if image_size < MIN_IMAGE_SIZE:
        raise SpecError(
            f"image_size must be at least {MIN_IMAGE_SIZE} px, got {image_size}.",
            f"Use {MIN_IMAGE_SIZE} px or more so that cells fit.",
        )
    out_dir = Path(out_dir)
    images_dir = out_dir / IMAGES_DIR
    try:
        images_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the demo folder {out_dir}: {exc}.", "Choose a writable folder."
        ) from exc

    plan: list[tuple[int, Scanner, Tumour]] = []
    for tumour in TUMOURS:
        for scanner in SCANNERS:
            for _ in range(images_per_domain):
                plan.append((len(plan) + 1, scanner, tumour))
    total = len(plan)
    if progress is not None:
        progress(0, total)

    workers = max(1, min(2, os.cpu_count() or 1))
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(_render_one, seed, i, s, t, image_size, images_dir / f"{i:03d}.tiff")
                for i, s, t in plan
            ]
            results: list[list[_Cell]] = []
            for done, future in enumerate(futures, start=1):
                results.append(future.result())
                if progress is not None:
                    progress(done, total)
    except OSError as exc:
        raise StorageError(
            f"Cannot write the demo images into {images_dir}: {exc}.", "Check free space."
        ) from exc

    vote_rng = np.random.default_rng([seed, 104729])
    images, annotations = [], []
    for (image_id, _, tumour), cells in zip(plan, results, strict=True):
        images.append(
            {
                "license": 1,
                "file_name": f"{image_id:03d}.tiff",
                "id": image_id,
                "width": image_size,
                "height": image_size,
                "tumor_type": tumour.name,
            }
        )
        for cell in cells:
            annotations.append(
                {
                    "bbox": [
                        cell.x - BOX_RADIUS,
                        cell.y - BOX_RADIUS,
                        cell.x + BOX_RADIUS,
                        cell.y + BOX_RADIUS,
                    ],
                    "category_id": cell.category,
                    "image_id": image_id,
                    "labels": _votes(vote_rng, cell),
                    "id": len(annotations) + 1,
                }
            )
    document = {
        "info": {
            "description": "mitoviz synthetic demo data set in the MIDOG++ format: rendered images, "
            "NOT real tissue. For trying the dashboard only.",
            "version": "1.0",
            "contributor": "mitoviz (generated by mitoviz.data.synthetic)",
            "synthetic": True,
            "seed": seed,
            "images_per_domain": images_per_domain,
            "image_size": image_size,
            "mpp": MPP,
            "scanners": [s.name for s in SCANNERS],
            "tumor_types": [t.name for t in TUMOURS],
        },
        "licenses": [{"url": "https://creativecommons.org/publicdomain/zero/1.0/", "id": 1, "name": "CC0"}],
        "images": images,
        "categories": [dict(c) for c in CATEGORIES],
        "annotations": annotations,
    }
    test = _test_images(seed, plan)
    table = io.StringIO()
    writer = csv.writer(table, delimiter=";", lineterminator="\n")
    writer.writerow(["Slide", "Dataset", "Tumor", "Scanner", "Origin", "Species"])
    for image_id, scanner, tumour in plan:
        split = "test" if image_id in test else "train"
        writer.writerow([image_id, split, tumour.name, scanner.name, "mitoviz synthetic", tumour.species])
    json_path = out_dir / DEMO_JSON
    try:
        json_path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        (out_dir / DEMO_SCANNERS_CSV).write_text(table.getvalue(), encoding="utf-8")
        readme = _readme(seed, images_per_domain, image_size, [c for r in results for c in r], total)
        (out_dir / DEMO_README).write_text(readme, encoding="utf-8")
    except OSError as exc:
        raise StorageError(
            f"Cannot write the demo files into {out_dir}: {exc}.", "Check free space."
        ) from exc
    return json_path
