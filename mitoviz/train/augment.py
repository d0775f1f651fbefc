"""Training augmentations, drawn per sample from a numpy Generator the caller seeds.

Every random choice comes from that generator (torchstain's own ``torch.rand`` runs under a forked,
seeded torch RNG), so a sample's pixels are a function of (fit seed, epoch, position) alone: the
same in any DataLoader worker, and again after a resume.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from mitoviz.train.method import TrainMethod

WHITE = [255.0, 255.0, 255.0]
STAIN_OD_THRESHOLD = 0.15  # torchstain's beta: optical density below this counts as unstained
STAIN_MIN_FRACTION = 0.01  # a Macenko fit needs at least this share of stained pixels (and 16 of them)

# stain outcome per sample
STAIN_NOT_DRAWN, STAIN_AUGMENTED, STAIN_PASSED = -1, 0, 1


class StainAugmenter:
    """Macenko stain augmentation with torchstain, fitted on each patch, then ``augment()``.

    A patch with too little stain to fit (blank glass, a white pad at the slide edge, or a fit that
    fails numerically) is returned unchanged; the caller counts these pass-throughs.
    """

    def __init__(self, sigma1: float, sigma2: float) -> None:
        import torchstain

        # torchstain 1.4.1 exports the factory as torchstain.augmentors.MacenkoAugmentor (not top level)
        self.augmentor = torchstain.augmentors.MacenkoAugmentor(backend="torch", sigma1=sigma1, sigma2=sigma2)

    @staticmethod
    def has_stain(pixels: np.ndarray) -> bool:
        """Enough pixels above torchstain's optical-density threshold in every channel to fit."""
        od = -np.log((pixels.reshape(-1, 3).astype(np.float32) + 1) / 240)
        stained = int(np.count_nonzero((od >= STAIN_OD_THRESHOLD).all(axis=1)))
        return stained >= max(16, STAIN_MIN_FRACTION * od.shape[0])

    def __call__(self, pixels: np.ndarray, seed: int) -> np.ndarray | None:
        """An augmented copy of the uint8 HWC patch, or None when it was passed through."""
        if not self.has_stain(pixels):
            return None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                self.augmentor.fit(torch.from_numpy(np.array(pixels)).permute(2, 0, 1))
                out = self.augmentor.augment()
            except (RuntimeError, IndexError, ValueError):  # a degenerate fit (e.g. a single stain colour)
                return None
        out = out.numpy()
        if not np.isfinite(out).all():
            return None
        return np.clip(out, 0, 255).astype(np.uint8)


def centre_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    off_y, off_x = (pixels.shape[0] - size) // 2, (pixels.shape[1] - size) // 2
    return pixels[off_y : off_y + size, off_x : off_x + size]


def _crop(t: torch.Tensor, size: int, method: TrainMethod, rng: np.random.Generator) -> torch.Tensor:
    """A ``size`` window at a jittered centre; with crop_scale < 1 a random-resized crop around it."""
    full = t.shape[-1]
    dy, dx = (int(v) for v in rng.integers(0, full - size + 1, size=2))
    if method.crop_scale >= 1:
        return t[:, dy : dy + size, dx : dx + size]
    area = rng.uniform(method.crop_scale, 1.0) * size * size
    ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    w = min(full, max(1, round(math.sqrt(area * ratio))))
    h = min(full, max(1, round(math.sqrt(area / ratio))))
    cy, cx = dy + size / 2, dx + size / 2
    top = int(min(max(round(cy - h / 2), 0), full - h))
    left = int(min(max(round(cx - w / 2), 0), full - w))
    return TF.resize(t[:, top : top + h, left : left + w], [size, size], antialias=True)


def _colour(t: torch.Tensor, method: TrainMethod, rng: np.random.Generator) -> torch.Tensor:
    """ColorJitter with factors drawn like torchvision's, applied in a fixed order."""
    b, c, s, h = method.color_jitter
    draws = [rng.uniform(max(0.0, 1 - v), 1 + v) for v in (b, c, s)] + [rng.uniform(-h, h)]
    if b:
        t = TF.adjust_brightness(t, draws[0])
    if c:
        t = TF.adjust_contrast(t, draws[1])
    if s:
        t = TF.adjust_saturation(t, draws[2])
    if h:
        t = TF.adjust_hue(t, draws[3])
    return t


def augment(
    pixels: np.ndarray, size: int, method: TrainMethod, rng: np.random.Generator, stain: StainAugmenter | None
) -> tuple[torch.Tensor, int]:
    """One training sample from a patch read with a jitter margin: (uint8 ``[size, size, 3]``, stain outcome).

    Order: stain (Macenko) → rotation by any angle → jittered (random-resized) crop → flips and
    right-angle turns → colour jitter → Gaussian blur.
    """
    outcome = STAIN_NOT_DRAWN
    if stain is not None and rng.random() < method.stain_p:
        augmented = stain(pixels, int(rng.integers(2**62)))
        outcome = STAIN_PASSED if augmented is None else STAIN_AUGMENTED
        pixels = pixels if augmented is None else augmented
    t = torch.from_numpy(np.array(pixels)).permute(2, 0, 1)
    if method.rotate_degrees and rng.random() < method.rotate_p:
        angle = float(rng.uniform(-method.rotate_degrees, method.rotate_degrees))
        t = TF.rotate(t, angle, interpolation=InterpolationMode.BILINEAR, fill=WHITE)
    t = _crop(t, size, method, rng)
    if method.hflip and rng.random() < 0.5:
        t = t.flip(-1)
    if method.vflip and rng.random() < 0.5:
        t = t.flip(-2)
    if method.rot90:
        t = torch.rot90(t, int(rng.integers(4)), dims=(-2, -1))
    if any(method.color_jitter) and rng.random() < method.color_jitter_p:
        t = _colour(t, method, rng)
    if method.blur_p and rng.random() < method.blur_p:
        sigma = float(rng.uniform(0.1, 1.0))
        t = TF.gaussian_blur(t, [5, 5], [sigma, sigma])
    return t.permute(1, 2, 0).contiguous(), outcome
