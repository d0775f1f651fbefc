"""Drawing primitives: texture noise fields, soft ellipses with wavy outlines, strands, and the canvas.

Everything works on float32 maps of haematoxylin and eosin concentration; nothing here knows cells.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image
from scipy import fft as sfft
from scipy import ndimage as ndi

# --------------------------------------------------------------------------------------------- noise


def noise_spectrum(rng: np.random.Generator, size: int) -> np.ndarray:
    """The Fourier transform of white noise, shared by several band-passed fields."""
    return sfft.rfft2(rng.standard_normal((size, size), dtype=np.float32))


def band_filtered(spectrum: np.ndarray, gain: np.ndarray, size: int) -> np.ndarray:
    """White noise filtered by ``gain`` in Fourier space, standardised to mean 0 and variance 1."""
    field = sfft.irfft2(spectrum * gain, s=(size, size)).astype(np.float32)
    field -= field.mean()
    field /= field.std() + 1e-8
    return field


@functools.lru_cache(maxsize=4)
def texture_gains(size: int) -> dict[str, np.ndarray]:
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


def smooth(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Unit-variance low-frequency noise, drawn at low resolution and interpolated."""
    f = 1
    while f < 16 and sigma / (2 * f) >= 3.0:
        f *= 2
    n = -(-size // f)
    field = ndi.gaussian_filter(rng.standard_normal((n, n), dtype=np.float32), sigma / f, mode="wrap")
    if f > 1:
        field = upsample(field, size)
    field -= field.mean()
    field /= field.std() + 1e-8
    return field


# ------------------------------------------------------------------------------------------- shapes


def soft_ellipse(
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


def outline_wobble(rng: np.random.Generator, amount: float, orders: int = 5) -> np.ndarray:
    """Random Fourier terms (amplitude, phase) of a wavy outline, weaker at higher orders."""
    amps = amount * rng.uniform(0.3, 1.0, orders) / np.arange(1, orders + 1) ** 0.7
    return np.stack([amps, rng.uniform(0, 2 * math.pi, orders)], axis=1)


def strands(
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


def rotate(x: np.ndarray, y: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rotated by ``theta`` (radians) about the origin."""
    c, s = math.cos(theta), math.sin(theta)
    return x * c - y * s, x * s + y * c


# ---------------------------------------------------------------------------------------- the canvas


@functools.lru_cache(maxsize=128)
def grid(half: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets ``(dy, dx)`` of a (2·half+1)² window, cached and read-only."""
    dy, dx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    dy.setflags(write=False)
    dx.setflags(write=False)
    return dy, dx


def upsample(field: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling by a whole factor, cropped to size × size."""
    f = -(-size // field.shape[0])
    big = Image.fromarray(np.ascontiguousarray(field, dtype=np.float32)).resize(
        (field.shape[1] * f, field.shape[0] * f), Image.Resampling.BILINEAR
    )
    return np.array(big, dtype=np.float32)[:size, :size]


class Canvas:
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
        dy, dx = grid(half)
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
        """Composite one cell: its body replaces the tissue beneath, its stains add on top.

        Array arguments are taken as float32, the canvas's own type.
        """
        h, body, body_e, e_mult = (
            None if a is None else np.asarray(a, np.float32) for a in (h, body, body_e, e_mult)
        )
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
