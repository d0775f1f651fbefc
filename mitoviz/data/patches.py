"""Cell-centred patches from slides (OpenSlide) and from ready patch files, behind one interface."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mitoviz.errors import PatchError

WHITE = 255
SLIDE_SUFFIXES = {".tif", ".tiff", ".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide"}


@dataclass(frozen=True)
class PatchSettings:
    """How a patch is cut: ``size`` px square around the cell, at level 0 or at ``mpp`` µm/px."""

    size: int = 224
    mpp: float | None = None

    def __post_init__(self) -> None:
        if not 8 <= self.size <= 4096:
            raise PatchError(f"Patch size {self.size} px is out of range.", "Choose between 8 and 4096 px.")
        if self.mpp is not None and not 0.05 <= self.mpp <= 20:
            raise PatchError(f"{self.mpp} µm/px is not a plausible resolution.", "Use e.g. 0.25 or 0.5.")

    def to_dict(self) -> dict[str, object]:
        return {"size": self.size, "mpp": self.mpp}


@dataclass(frozen=True)
class Window:
    """Where a patch lies on its image: ``extent`` level-0 px square from (``left``, ``top``) on a ``width`` ×
    ``height`` image of ``mpp`` µm/px (None when the image does not report it). Galleries use it to mark
    padding and draw a scale bar."""

    left: float
    top: float
    extent: float
    width: int
    height: int
    mpp: float | None

    def outside(self, size: int) -> np.ndarray:
        """Bool ``[size, size]``: pixels of the patch, shown at ``size`` px, beyond the image edge (padding)."""
        centres = (np.arange(size) + 0.5) * self.extent / size
        cols, rows = self.left + centres, self.top + centres
        return ((rows < 0) | (rows >= self.height))[:, None] | ((cols < 0) | (cols >= self.width))[None, :]

    def um_per_px(self, size: int) -> float | None:
        """µm per pixel of the patch shown at ``size`` px, or None without the image's resolution."""
        return None if self.mpp is None else self.mpp * self.extent / size


class _Source:
    """An open image: reads level-0 regions, padding outside the image with white."""

    mpp: float | None = None
    width: int
    height: int

    def region(self, left: float, top: float, extent: float, size: int) -> np.ndarray:
        """``extent`` level-0 px square from (left, top), returned resized to ``size`` px."""
        raise NotImplementedError

    def whole(self, size: int) -> np.ndarray:
        return self.region(0, 0, max(self.width, self.height), size)

    def close(self) -> None:
        pass


class _SlideSource(_Source):
    def __init__(self, path: Path) -> None:
        import openslide

        self.path = path
        self.slide = openslide.OpenSlide(str(path))
        self.width, self.height = self.slide.dimensions
        mpp = self.slide.properties.get(openslide.PROPERTY_NAME_MPP_X)
        try:
            self.mpp = float(mpp) if mpp else None
        except ValueError:
            self.mpp = None

    def region(self, left: float, top: float, extent: float, size: int) -> np.ndarray:
        downsample = extent / size
        level = self.slide.get_best_level_for_downsample(max(downsample, 1.0))
        level_ds = self.slide.level_downsamples[level]
        read = max(1, math.ceil(extent / level_ds))
        try:
            rgba = self.slide.read_region((round(left), round(top)), level, (read, read))
        except Exception as exc:  # openslide.OpenSlideError: a damaged tile
            raise PatchError(f"Cannot read a region of {self.path}: {exc}.", "The slide may be damaged: re-download it.") from exc
        return _to_rgb(rgba, size)

    def close(self) -> None:
        self.slide.close()


class _ImageSource(_Source):
    """A plain image file (PNG, JPEG, untiled TIFF) held in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with Image.open(path) as img:
            img.load()
            self.pixels = np.asarray(img.convert("RGB"))
        self.height, self.width = self.pixels.shape[:2]

    def region(self, left: float, top: float, extent: float, size: int) -> np.ndarray:
        left, top, extent = round(left), round(top), max(1, round(extent))
        out = np.full((extent, extent, 3), WHITE, dtype=np.uint8)
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + extent, self.width), min(top + extent, self.height)
        if x1 > x0 and y1 > y0:
            out[y0 - top : y1 - top, x0 - left : x1 - left] = self.pixels[y0:y1, x0:x1]
        return _resize(out, size)


def _resize(pixels: np.ndarray, size: int) -> np.ndarray:
    if pixels.shape[0] == size and pixels.shape[1] == size:
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR))


def _to_rgb(rgba: Image.Image, size: int) -> np.ndarray:
    """Composite OpenSlide's RGBA (transparent outside the slide) onto white; resize in Pillow."""
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] == 255:  # the whole region lies on the slide: no compositing needed
        rgb = rgba.convert("RGB")
    else:
        rgb = Image.new("RGB", rgba.size, (WHITE, WHITE, WHITE))
        rgb.paste(rgba, mask=alpha)
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb)


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of level 0 from the file's header (OpenSlide for slides, else Pillow, no pixels read), or
    None when the file is missing or unreadable."""
    path = Path(path)
    if path.suffix.lower() in SLIDE_SUFFIXES:
        try:
            import openslide

            with openslide.OpenSlide(str(path)) as slide:
                return tuple(slide.dimensions)
        except Exception:  # OpenSlide raises several unrelated types; Pillow may still read it
            pass
    try:
        with warnings.catch_warnings():  # a damaged file's complaints: None says it
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                return img.size
    except Exception:  # missing, damaged, or too large for Pillow's guard
        return None


def open_source(path: str | Path) -> _Source:
    """Open a slide with OpenSlide, or a plain image with Pillow when OpenSlide cannot."""
    path = Path(path)
    if not path.is_file():
        raise PatchError(
            f"Image file {path} does not exist.", "Check the data folder, or re-download the image."
        )
    errors: list[str] = []
    if path.suffix.lower() in SLIDE_SUFFIXES:
        try:
            return _SlideSource(path)
        except Exception as exc:  # OpenSlide raises several unrelated types
            errors.append(f"OpenSlide: {exc}")
    try:
        return _ImageSource(path)
    except Exception as exc:
        errors.append(f"Pillow: {exc}")
    raise PatchError(
        f"Cannot read image {path} ({'; '.join(errors)}).",
        "The file may be truncated or not an image: re-download or replace it.",
    )


class PatchReader:
    """Reads cell-centred patches; keeps up to ``max_open`` images open and reuses them.

    Use as a context manager so every handle is closed.
    """

    def __init__(self, max_open: int = 16) -> None:
        self.max_open = max_open
        self.opens = 0
        self._open: OrderedDict[str, _Source] = OrderedDict()

    def __enter__(self) -> PatchReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self._open:
            _, source = self._open.popitem()
            source.close()

    def source(self, image: str | Path) -> _Source:
        key = str(image)
        if key in self._open:
            self._open.move_to_end(key)
            return self._open[key]
        source = open_source(key)
        self.opens += 1
        self._open[key] = source
        while len(self._open) > self.max_open:
            _, oldest = self._open.popitem(last=False)
            oldest.close()
        return source

    def _extent(self, source: _Source, size: int, mpp: float | None) -> float:
        if mpp is None:
            return float(size)
        if source.mpp is None:
            raise PatchError(
                f"{getattr(source, 'path', 'The image')} does not report its resolution (µm/px).",
                "Cut patches at level 0 (leave µm/px empty) for this data set.",
            )
        return size * mpp / source.mpp

    def window(self, image: str | Path, x: float, y: float, settings: PatchSettings | None = None,
               context: int | None = None) -> Window:
        """Where :meth:`read` (with ``settings``) or :meth:`context` (with its ``context`` extent) takes a patch."""
        source = self.source(image)
        whole = max(source.width, source.height)
        if x is None or (isinstance(x, float) and math.isnan(x)):
            left, top, extent = 0.0, 0.0, float(whole)
        else:
            settings = settings or PatchSettings()
            extent = min(context, whole) if context else self._extent(source, settings.size, settings.mpp)
            left, top = round(x - extent / 2), round(y - extent / 2)
        return Window(left, top, float(extent), source.width, source.height, source.mpp)

    def read(
        self, image: str | Path, x: float, y: float, settings: PatchSettings, out_size: int | None = None
    ) -> np.ndarray:
        """One patch centred on (x, y) (a ready patch when x is NaN), uint8 [out, out, 3].

        The patch covers ``settings.size`` px at ``settings.mpp`` and is returned at ``out_size``
        px (default: ``settings.size``).
        """
        source = self.source(image)
        out = out_size or settings.size
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return source.whole(out)
        extent = self._extent(source, settings.size, settings.mpp)
        return source.region(x - extent / 2, y - extent / 2, extent, out)

    def context(
        self, image: str | Path, x: float, y: float, extent: int = 1024, size: int = 512
    ) -> tuple[np.ndarray, tuple[float, float]]:
        """A wider window around the cell for galleries, and the cell's position in it (px)."""
        source = self.source(image)
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return source.whole(size), (size / 2, size / 2)
        extent = min(extent, max(source.width, source.height))
        crop = source.region(x - extent / 2, y - extent / 2, extent, size)
        return crop, (size / 2, size / 2)

    def read_cells(
        self,
        cells: pd.DataFrame,
        settings: PatchSettings,
        on_error: str = "raise",
        out_size: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Patches for many cells in table order, and a mask of cells that could not be read.

        With ``on_error="report"`` an unreadable image gives white patches and ``ok = False``
        for its cells, so the caller can count and report them instead of losing them.
        """
        size = out_size or settings.size
        out = np.full((len(cells), size, size, 3), WHITE, dtype=np.uint8)
        ok = np.ones(len(cells), dtype=bool)
        images = cells["image"].astype(str).to_numpy()
        xs, ys = cells["x"].to_numpy(dtype=float), cells["y"].to_numpy(dtype=float)
        unreadable: set[str] = set()
        for i in np.argsort(images, kind="stable"):
            if images[i] in unreadable:
                ok[i] = False
                continue
            try:
                out[i] = self.read(images[i], xs[i], ys[i], settings, size)
            except PatchError:
                if on_error == "raise":
                    raise
                unreadable.add(images[i])
                ok[i] = False
        return out, ok
