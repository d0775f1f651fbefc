"""Patches streamed for training and prediction: never all in memory.

A :class:`PatchSet` reads one cell at a time through ``mitoviz.data.patches.PatchReader`` (one reader
per DataLoader worker process) with a margin around the cell for the centre jitter. Which cell a
training draw picks, and how it is augmented, is a function of (seed, epoch, position in the epoch),
so a fit resumed at any batch sees exactly the samples an uninterrupted fit would have seen.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.errors import PatchError
from mitoviz.train.augment import STAIN_NOT_DRAWN, StainAugmenter, augment, centre_crop
from mitoviz.train.method import TrainMethod

MIN_VAL_SLIDES = 3  # fewer training slides than this: validation by cell
SLIDE_SPLIT_TRIES = 64


@dataclass(frozen=True)
class Geometry:
    """What the network sees: ``extent`` level-0 px (or µm/px × size) around the cell at ``input_size``
    px; patches are read ``1 + 2·jitter`` times larger so a jittered crop stays inside real pixels."""

    extent: int
    input_size: int
    jitter: float = 0.0
    mpp: float | None = None

    @property
    def read(self) -> PatchSettings:
        return PatchSettings(round(self.extent * (1 + 2 * self.jitter)), self.mpp)

    @property
    def read_size(self) -> int:
        return max(self.input_size, round(self.input_size * (1 + 2 * self.jitter)))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def geometry_for(method: TrainMethod, input_size: int, patch: PatchSettings | None) -> Geometry:
    """The method's extent, or the experiment's patch size; the experiment's resolution."""
    patch = patch or PatchSettings()
    return Geometry(method.extent or patch.size, input_size, method.jitter, patch.mpp)


class PatchSet(Dataset):
    """Cells of one table read on demand. An item is a row position (evaluation: centre crop) or a
    ``(row, epoch, position)`` key (training: augmented). Items: (uint8 ``[S, S, 3]``, label, stain
    outcome, readable)."""

    def __init__(
        self,
        cells: pd.DataFrame,
        labels: np.ndarray | None,
        geometry: Geometry,
        method: TrainMethod | None = None,
        seed: int = 0,
    ) -> None:
        self.images = cells["image"].astype(str).to_numpy()
        self.xs = cells["x"].to_numpy(dtype=float) if "x" in cells else np.full(len(cells), np.nan)
        self.ys = cells["y"].to_numpy(dtype=float) if "y" in cells else np.full(len(cells), np.nan)
        self.labels = np.zeros(len(cells), np.float32) if labels is None else np.asarray(labels, np.float32)
        self.geometry = geometry
        self.method = method
        self.seed = seed
        self._reader: PatchReader | None = None
        self._pid = -1
        self._stain: StainAugmenter | None = None

    def __len__(self) -> int:
        return len(self.images)

    def reader(self) -> PatchReader:
        if self._reader is None or self._pid != os.getpid():  # one reader per (forked) process
            self._reader, self._pid = PatchReader(), os.getpid()
        return self._reader

    def close(self) -> None:
        if self._reader is not None and self._pid == os.getpid():
            self._reader.close()
        self._reader = None

    def read(self, row: int) -> tuple[np.ndarray, bool]:
        g = self.geometry
        try:
            return self.reader().read(self.images[row], self.xs[row], self.ys[row], g.read, g.read_size), True
        except PatchError:
            return np.full((g.read_size, g.read_size, 3), 255, np.uint8), False

    def __getitem__(self, key: int | Sequence[int]) -> tuple[torch.Tensor, float, int, bool]:
        if isinstance(key, int | np.integer):
            pixels, ok = self.read(int(key))
            crop = torch.from_numpy(np.array(centre_crop(pixels, self.geometry.input_size)))
            return crop, float(self.labels[int(key)]), STAIN_NOT_DRAWN, ok
        row, epoch, position = (int(v) for v in key)
        assert self.method is not None, "training items need the method"
        pixels, ok = self.read(row)
        if self.method.stain and self._stain is None:
            self._stain = StainAugmenter(self.method.stain_sigma1, self.method.stain_sigma2)
        rng = np.random.default_rng([self.seed, epoch, position])
        sample, outcome = augment(pixels, self.geometry.input_size, self.method, rng, self._stain)
        return sample, float(self.labels[row]), outcome, ok


class Items(Sampler):
    """The items a loader yields, in order; replace ``items`` before each ``iter`` (a new epoch)
    so persistent workers, and the slides their readers hold open, serve every epoch."""

    def __init__(self, items: Sequence = ()) -> None:
        self.items = list(items)

    def __iter__(self) -> Iterator:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def loader(
    dataset: PatchSet,
    items: Sequence | Items,
    batch_size: int,
    workers: int,
    *,
    persistent: bool = False,
    pin_memory: bool = False,
) -> DataLoader:
    """Batches of ``items`` in order. Its own generator keeps the global torch RNG untouched (a
    DataLoader otherwise draws a base seed from it on every ``iter``, which would break resuming)."""
    sampler = items if isinstance(items, Items) else Items(items)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=persistent and workers > 0,
        pin_memory=pin_memory,
    )


def readable(cells: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Which cells' images open, and the images that do not (checked once per image, in this process)."""
    images = cells["image"].astype(str).to_numpy()
    bad: list[str] = []
    with PatchReader(max_open=4) as reader:
        for image in dict.fromkeys(images):
            try:
                reader.source(image)
            except PatchError:
                bad.append(image)
    return ~np.isin(images, bad), bad


def epoch_draws(seed: int, epoch: int, labels: np.ndarray, n: int) -> np.ndarray:
    """``n`` class-balanced draws (positions into ``labels``): a class with probability 1/2, then a
    cell of it uniformly, with replacement (FMC's sampler; AMB's inverse-frequency weights in expectation)."""
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    use_pos = rng.random(n) < 0.5
    return np.where(use_pos, pos[rng.integers(len(pos), size=n)], neg[rng.integers(len(neg), size=n)])


def steps_per_epoch(n: int, batch_size: int) -> tuple[int, int]:
    """(draws, batches): a last batch of one sample is dropped (BatchNorm cannot train on it)."""
    if n % batch_size == 1 and n > 1:
        n -= 1
    return n, -(-n // batch_size)


@dataclass(frozen=True)
class ValidationSplit:
    train: np.ndarray  # positions into the fit's training rows
    val: np.ndarray
    by: str  # "slide", "cell" or "none"
    note: str = ""


def split_validation(slides: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> ValidationSplit:
    """Carve ``fraction`` of the training cells off for validation, whole slides at a time.

    Among seeded shuffles of the slides, the first slides that reach the fraction form a candidate;
    one where both sides hold both classes and whose size is closest to the fraction wins. With fewer
    than MIN_VAL_SLIDES slides, or no such candidate, validation falls back to a stratified draw of
    cells (at least one per class that has two) and the note says so.
    """
    n = len(labels)
    everything = np.arange(n)
    if fraction <= 0 or n < 2:
        return ValidationSplit(
            everything, np.empty(0, int), "none", "no validation set: early stopping on training loss"
        )
    rng = np.random.default_rng([seed, 0xA11])
    names, slide_of = np.unique(slides.astype(str), return_inverse=True)
    target = fraction * n
    best: tuple[float, np.ndarray] | None = None
    if len(names) >= MIN_VAL_SLIDES:
        sizes = np.bincount(slide_of, minlength=len(names))
        for _ in range(SLIDE_SPLIT_TRIES):
            order = rng.permutation(len(names))
            k = int(np.searchsorted(np.cumsum(sizes[order]), target)) + 1
            val = np.isin(slide_of, order[: min(k, len(names) - 1)])
            if all(len(np.unique(labels[side])) == 2 for side in (val, ~val)):
                gap = abs(val.sum() - target)
                if best is None or gap < best[0]:
                    best = (gap, val)
        if best is not None:
            return ValidationSplit(np.flatnonzero(~best[1]), np.flatnonzero(best[1]), "slide")
    reason = (
        f"only {len(names)} training slide(s)"
        if len(names) < MIN_VAL_SLIDES
        else f"no split of the {len(names)} training slides keeps both classes on both sides"
    )
    val_parts = []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) >= 2:
            val_parts.append(idx[: min(len(idx) - 1, max(1, round(fraction * len(idx))))])  # one stays to train
    val_idx = np.sort(np.concatenate(val_parts)) if val_parts else np.empty(0, int)
    return ValidationSplit(
        np.setdiff1d(everything, val_idx), val_idx, "cell", f"validation by cell: {reason}"
    )
