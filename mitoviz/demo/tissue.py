"""Tissue architecture: tumour nests and stroma, fibres, cell territories and the crowd of ordinary nuclei."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from mitoviz.demo.cells import fibroblast, lymphocyte, ordinary_nucleus
from mitoviz.demo.parameters import EXCLUSION, MIN_CELL_DISTANCE, STROMA_E, STROMA_H, Tumour
from mitoviz.demo.shapes import (
    Canvas,
    band_filtered,
    noise_spectrum,
    smooth,
    texture_gains,
    upsample,
)


def layout(rng: np.random.Generator, size: int, tumour: Tumour) -> dict[str, np.ndarray]:
    """Low-frequency maps: tumour nests vs stroma, retraction gaps, lumens, fibre orientation."""
    scale = size / 1024
    nests = smooth(rng, size, 70 * max(scale, 0.5)) + 0.18 * smooth(rng, size, 12)
    threshold = np.quantile(nests, tumour.stroma_fraction)
    tumour_mask = np.clip((nests - threshold) * 12.0 + 0.5, 0.0, 1.0)
    gap_noise = smooth(rng, size, 20)
    band = np.exp(-(((nests - threshold) / 0.06) ** 2))
    gaps = np.clip(band * (gap_noise - 0.45) * 2.0, 0.0, 1.0)
    lumens = np.zeros_like(nests)
    if tumour.lumen_fraction > 0:
        holes = smooth(rng, size, 22)
        holes = holes * tumour_mask
        cut = np.quantile(holes, 1.0 - tumour.lumen_fraction)
        lumens = np.clip((holes - cut) * 8.0, 0.0, 1.0)
    orient = smooth(rng, size, 90) * 1.4
    drift = smooth(rng, size, 120)
    return {
        "tumour": tumour_mask,
        "gaps": gaps,
        "lumens": lumens,
        "orient": orient,
        "drift": drift,
    }


def draw_fibres(rng: np.random.Generator, size: int, lay: dict[str, np.ndarray]) -> np.ndarray:
    """Wavy collagen texture: directional noises blended by a smooth orientation field, then warped.

    Drawn at half resolution (the fibres are smooth across a few pixels) and interpolated.
    """
    n = -(-size // 2)
    spectrum = noise_spectrum(rng, n)
    gains = texture_gains(n)
    orient = lay["orient"][::2, ::2]
    out = np.zeros((n, n), np.float32)
    weights = np.zeros_like(out)
    for k in range(4):
        w = (0.5 + 0.5 * np.cos(2.0 * (orient - k * math.pi / 4))) ** 3
        out += w * band_filtered(spectrum, gains[f"fibre{k}"], n)
        weights += w
    out /= weights + 1e-6
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    wy = yy + 2.5 * smooth(rng, n, 8)
    wx = xx + 2.5 * smooth(rng, n, 8)
    out = ndi.map_coordinates(out, [wy, wx], order=1, mode="reflect")
    return np.tanh(upsample(out, size) * 1.2)


def place_points(
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


def place_cells(rng: np.random.Generator, size: int, count: int, tumour_mask: np.ndarray) -> np.ndarray:
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


def draw_tissue(
    rng: np.random.Generator, size: int, tumour: Tumour, cells: np.ndarray, lay: dict[str, np.ndarray]
) -> Canvas:
    """Stroma, tumour cytoplasm with cell borders, and the unannotated crowd of nuclei."""
    tmask = lay["tumour"]
    fibres = draw_fibres(rng, size, lay)
    tex = noise_spectrum(rng, size)
    gains = texture_gains(size)
    fine = band_filtered(tex, gains["fine"], size)
    coarse = band_filtered(tex, gains["coarse"], size)
    grain = band_filtered(noise_spectrum(rng, size), gains["grain"], size)

    nuclei = place_points(rng, size, tumour.spacing, tmask * (1.0 - lay["lumens"]), margin=-10)
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
    border = upsample(ndi.gaussian_filter(border.astype(np.float32), 0.5), size)
    shade = upsample(rng.uniform(0.75, 1.25, n * n).astype(np.float32)[owner], size)
    cyt = tumour.cytoplasm * shade * (1.0 + 0.2 * grain) * (1.0 + 0.5 * border)
    bundles = smooth(rng, size, 24)
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
    canvas = Canvas(size, h.astype(np.float32), e.astype(np.float32), fine, coarse)

    for x, y in nuclei:
        ordinary_nucleus(rng, canvas, int(x), int(y), tumour)
    stromal = place_points(rng, size, 52.0, (1.0 - tmask) * 0.35, margin=-10)
    if len(cells) and len(stromal):
        d2 = ((stromal[:, None, :] - cells[None, :, :]) ** 2).sum(-1).min(axis=1)
        stromal = stromal[d2 > EXCLUSION**2]
    for x, y in stromal:
        if rng.uniform() < 0.8:
            fibroblast(
                rng,
                canvas,
                int(x),
                int(y),
                float(lay["orient"][min(max(y, 0), size - 1), min(max(x, 0), size - 1)]),
            )
        else:
            lymphocyte(rng, canvas, int(x), int(y), unannotated=True)
    clear = 1.0 - np.maximum(lay["gaps"], lay["lumens"])
    canvas.h *= clear
    canvas.e *= clear
    return canvas
