"""Cells drawn onto a canvas: ordinary nuclei, fibroblasts, lymphocytes, mitotic figures and imposters.

Each function draws one cell at (x, y) and consumes random numbers in a fixed order, so the same seed
gives the same pixels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from mitoviz.demo.parameters import Tumour
from mitoviz.demo.shapes import Canvas, outline_wobble, rotate, soft_ellipse, strands

# ---------------------------------------------------------------------------------- ordinary cells


def ordinary_nucleus(rng: np.random.Generator, cv: Canvas, x: int, y: int, tumour: Tumour) -> None:
    """An unannotated tumour nucleus: textured chromatin, a darker rim, a few nucleoli."""
    a = rng.uniform(*tumour.nucleus_axes)
    b = a * rng.uniform(*tumour.roundness)
    half = int(a + 4)
    sl, dx, dy = cv.window(x, y, half)
    mask, dist = soft_ellipse(dx, dy, a, b, rng.uniform(0, math.pi), outline_wobble(rng, 0.05), edge=1.1)
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


def fibroblast(rng: np.random.Generator, cv: Canvas, x: int, y: int, theta: float) -> None:
    """A thin spindle nucleus along the local fibre direction ``theta``."""
    a = rng.uniform(12, 22)
    b = rng.uniform(2.5, 4.5)
    sl, dx, dy = cv.window(x, y, int(a + 3))
    mask, _ = soft_ellipse(dx, dy, a, b, theta + rng.normal(0, 0.15), outline_wobble(rng, 0.05), edge=1.0)
    h = mask * rng.uniform(0.55, 0.9) * np.clip(1.0 + 0.3 * cv.fine[sl], 0.3, None)
    cv.stamp(sl, h.astype(np.float32), e_mult=(1.0 - 0.3 * mask).astype(np.float32))


def lymphocyte(rng: np.random.Generator, cv: Canvas, x: int, y: int, unannotated: bool = False) -> None:
    """A small round dense nucleus with a thin rim of cytoplasm (fainter when ``unannotated``)."""
    r = rng.uniform(11.5, 15.0)
    sl, dx, dy = cv.window(x, y, int(r + 6))
    mask, dist = soft_ellipse(
        dx, dy, r, r * rng.uniform(0.85, 1.0), rng.uniform(0, math.pi), outline_wobble(rng, 0.04), edge=1.0
    )
    body, _ = soft_ellipse(dx, dy, r + 2.5, r + 2.0, 0.0, outline_wobble(rng, 0.05), edge=1.2)
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
    body, _ = soft_ellipse(dx, dy, r * elongate, r, 0.0, outline_wobble(rng, 0.06), edge=4.0)
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
    x, y = rotate(parts[0], parts[1], theta)
    return (x, y, parts[2] + theta, parts[3], parts[4])


def mitosis(rng: np.random.Generator, cv: Canvas, x: int, y: int, kind: str, tumour: Tumour) -> None:
    """A mitotic figure of phase ``kind`` (see ``MITOTIC_MIX``) in a rounded-up, pale cell."""
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
    bx, by = rotate(dx, dy, -theta)
    body, body_e = _mitotic_body(rng, bx, by, tumour.cytoplasm, elongate if scale == 1.0 else 1.0)
    if kind_drawn == "telophase":
        pinch = np.exp(-0.5 * (bx / 5.0) ** 2) * np.clip(np.abs(by) / 18.0, 0, 1)
        body = body * (1.0 - 0.9 * pinch)
    field = strands(dx, dy, *parts)
    density = rng.uniform(1.8, 2.6)
    h = density * (1.0 - np.exp(-gain * field)) * np.clip(1.0 + 0.12 * cv.fine[sl], 0.5, None)
    if blur > 0:
        h = ndi.gaussian_filter(h, blur)
    halo = ndi.gaussian_filter(np.clip(field, 0, 1), 4.0 * max(scale, 0.7))
    halo = halo / (halo.max() + 1e-6)
    clear = rng.uniform(0.3, 0.9) * (1.0 if rng.uniform() < 0.75 else 0.2)
    body_e = body_e * (1.0 - clear * np.clip(halo * 2.2, 0, 1)) * np.clip(1.0 + 0.25 * cv.fine[sl], 0.3, None)
    cv.stamp(sl, h, body=body, body_e=body_e, body_h=tumour.cytoplasm_h * rng.uniform(0.5, 1.1))


# ---------------------------------------------------------------------------------------- imposters


def _round_body(
    rng: np.random.Generator,
    dx: np.ndarray,
    dy: np.ndarray,
    r: float,
    squash: float,
    wobble: float,
    edge: float,
) -> np.ndarray:
    """A roundish soft ellipse of radius ``r``: minor axis ``r·U(squash, 1)``, random angle and outline."""
    body, _ = soft_ellipse(
        dx,
        dy,
        r,
        r * rng.uniform(squash, 1.0),
        rng.uniform(0, math.pi),
        outline_wobble(rng, wobble),
        edge=edge,
    )
    return body


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
    body = _round_body(rng, dx, dy, outer, 0.85, 0.08, 2.0)
    core = _round_body(rng, dx, dy, inner, 0.8, 0.05, 1.2)
    return body, (inner_e * core + outer_e * (1 - core)).astype(np.float32)


def imposter(rng: np.random.Generator, cv: Canvas, x: int, y: int, kind: str, tumour: Tumour) -> None:
    """A look-alike of kind ``kind`` (see ``Tumour.imposter_mix``): dense, dark, but not a mitosis."""
    if kind == "lymphocyte":
        lymphocyte(rng, cv, x, y)
        return
    sl, dx, dy = cv.window(x, y, 34)
    cyt = tumour.cytoplasm
    theta = rng.uniform(0, math.pi)
    if kind in ("pyknotic", "irregular pyknotic"):
        irregular = kind == "irregular pyknotic"
        r = rng.uniform(6.5, 10.5) if not irregular else rng.uniform(7.5, 12.0)
        ratio = rng.uniform(0.85, 1.0) if not irregular else rng.uniform(0.45, 0.8)
        mask, _ = soft_ellipse(
            dx,
            dy,
            r,
            r * ratio,
            theta,
            outline_wobble(rng, 0.16 if irregular else 0.03),
            edge=1.0 if irregular else 0.8,
        )
        dense = rng.uniform(1.7, 2.4)
        h = dense * mask * np.clip(1.0 + 0.06 * cv.fine[sl], 0.7, None)
        if irregular:
            n = int(rng.integers(4, 10))
            phi = rng.uniform(0, 2 * math.pi, n)
            rr = r * rng.uniform(0.75, 1.0, n)
            u, v = rr * np.cos(phi), rr * ratio * np.sin(phi)
            px, py = rotate(u, v, theta)
            arms = strands(dx, dy, px, py, phi + theta, rng.uniform(2.0, 4.0, n), rng.uniform(1.0, 1.5, n))
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
            body, _ = soft_ellipse(
                dx,
                dy,
                r + rng.uniform(8, 14),
                r + rng.uniform(7, 13),
                theta,
                outline_wobble(rng, 0.08),
                edge=2.0,
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
            m, _ = soft_ellipse(
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
        mask, dist = soft_ellipse(dx, dy, a, b, theta, outline_wobble(rng, 0.09), edge=1.0)
        dense = rng.uniform(0.95, 1.5)
        chrom = dense * np.clip(0.75 + 0.3 * cv.coarse[sl] + 0.25 * cv.fine[sl], 0.3, None)
        rim = 0.5 * np.exp(-(((dist - 1.4) / 1.1) ** 2))
        h = mask * (chrom + rim)
        body, _ = soft_ellipse(
            dx, dy, a + rng.uniform(6, 11), b + rng.uniform(6, 11), theta, outline_wobble(rng, 0.08), edge=2.0
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
            m, _ = soft_ellipse(
                dx - lx[k],
                dy - ly[k],
                lr[k],
                lr[k] * rng.uniform(0.75, 1.0),
                rng.uniform(0, math.pi),
                outline_wobble(rng, 0.05),
                edge=0.9,
            )
            h = np.maximum(h, rng.uniform(1.3, 1.9) * m)
        link = strands(
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
        body, _ = soft_ellipse(
            dx, dy, r, r * rng.uniform(0.85, 1.0), theta, outline_wobble(rng, 0.05), edge=1.5
        )
        granules = np.clip(1.0 + 0.5 * cv.fine[sl], 0.2, None)
        level = rng.uniform(1.3, 1.9) if eosinophil else rng.uniform(0.25, 0.45)
        body_e = (cyt * level * granules).astype(np.float32)
    cv.stamp(sl, h, body=body, body_e=body_e, body_h=tumour.cytoplasm_h * rng.uniform(0.6, 1.1))
