"""Cell images for galleries, drawn for pathologists: a scale bar in µm, padding drawn as padding.

Images come from the slide (or ready patch) through the PatchReader, which also says where the patch lies
on its image (:class:`~mitoviz.data.patches.Window`): the part beyond the image edge is hatched grey, never
white that looks like tissue, and the scale bar comes from the image's own resolution. An imported bundle's
stored JPEGs carry neither, and say so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from mitoviz.data.patches import PatchReader, PatchSettings, Window
from mitoviz.errors import PatchError
from mitoviz.report.agreement import agreement_text
from mitoviz.report.cells import cell_facts, column_help, method_table, prob_column
from mitoviz.results import CONTEXT_EXTENT, Run

CARD_PX = 384  # a card's image; the enlarged view reads at LARGE_PX
LARGE_PX = 512
MISSING_TEXT = "image not available"
HATCH_BASE, HATCH_STRIPE = 226, 178  # greys of the hatching over padding
BAR_LENGTHS_UM = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000)
CELL_BOX = (0, 200, 90)

PADDING_NOTE = "Hatched: beyond the image edge (padding added to centre the cell, not tissue)."
NO_MPP_NOTE = "No scale bar: this image does not report its resolution (µm/px), as ready patches usually do not."
BUNDLE_NOTE = "No scale bar: an imported bundle's images do not carry their slide's resolution or edges."


@dataclass(frozen=True)
class CellImage:
    """A gallery image and what the page says about it."""

    pixels: np.ndarray
    um_per_px: float | None = None
    padded: bool = False
    note: str = ""  # why there is no scale bar, when there is none

    @property
    def notes(self) -> list[str]:
        return [n for n in (PADDING_NOTE if self.padded else "", self.note) if n]


def hatch(pixels: np.ndarray, mask: np.ndarray, period: int = 10) -> np.ndarray:
    """Pixels with the ``mask`` part drawn as grey diagonal hatching."""
    if not mask.any():
        return pixels
    out = pixels.copy()
    rows, cols = np.indices(mask.shape)
    stripes = ((rows + cols) % period) < max(2, period // 3)
    out[mask] = HATCH_BASE
    out[mask & stripes] = HATCH_STRIPE
    return out


def bar_length(um_per_px: float, width: int, share: float = 0.3) -> float | None:
    """The longest round length in µm that takes at most ``share`` of the width; None when none is long
    enough to read (a twelfth of the width) or even 1 µm is too wide."""
    fits = [length for length in BAR_LENGTHS_UM if length / um_per_px <= share * width]
    return float(fits[-1]) if fits and fits[-1] / um_per_px >= width / 12 else None


#: Fonts with a µ, found by name in the system's font folders (Debian: fonts-dejavu, fonts-liberation).
FONTS = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf")


@functools.lru_cache(maxsize=16)
def _font(size: int) -> tuple[ImageFont.ImageFont | ImageFont.FreeTypeFont, str]:
    """A font of ``size`` px and how it writes micrometres ("µm", or "um" where only Pillow's own font is here,
    which has no µ)."""
    for name in FONTS:
        try:
            return ImageFont.truetype(name, size), "µm"
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size), "um"
    except (OSError, TypeError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default(), "um"


def scale_bar(pixels: np.ndarray, um_per_px: float | None) -> np.ndarray:
    """Pixels with a scale bar (black bar and its length on a light box) at the bottom left."""
    length = bar_length(um_per_px, pixels.shape[1]) if um_per_px else None
    if length is None:
        return pixels
    img = Image.fromarray(pixels).convert("RGBA")
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    w = img.width
    bar, thick, margin = round(length / um_per_px), max(3, w // 90), max(4, w // 40)
    font, micrometre = _font(max(11, w // 20))
    text = f"{length:g} {micrometre}"
    tw, th = (lambda b: (b[2] - b[0], b[3] - b[1]))(draw.textbbox((0, 0), text, font=font))
    box_w, box_h = max(bar, tw) + 2 * margin // 2 + 4, th + thick + margin + 6
    x0, y1 = margin, img.height - margin
    draw.rounded_rectangle([x0, y1 - box_h, x0 + box_w, y1], radius=3, fill=(255, 255, 255, 215))
    left = x0 + (box_w - bar) / 2
    draw.rectangle([left, y1 - margin // 2 - thick, left + bar, y1 - margin // 2], fill=(0, 0, 0, 255))
    draw.text((x0 + (box_w - tw) / 2, y1 - box_h + 2), text, fill=(0, 0, 0, 255), font=font, anchor="la")
    return np.asarray(Image.alpha_composite(img, overlay).convert("RGB"))


def _placeholder(size: int) -> np.ndarray:
    img = Image.new("RGB", (size, size), (236, 236, 240))
    font = _font(max(10, size // 16))[0]
    ImageDraw.Draw(img).text((size / 2, size / 2), MISSING_TEXT, fill=(110, 110, 120), font=font, anchor="mm")
    return np.asarray(img)


def _outline(pixels: np.ndarray, half: float) -> np.ndarray:
    """Outline the square of half-width ``half`` px in the middle: the patch the models saw, in its context."""
    img = Image.fromarray(pixels)
    c = img.width / 2
    ImageDraw.Draw(img).rectangle([c - half, c - half, c + half, c + half], outline=CELL_BOX, width=3)
    return np.asarray(img)


def _framed(pixels: np.ndarray) -> np.ndarray:
    """A thin grey frame, so the image's edge shows against the page."""
    out = pixels.copy()
    out[[0, -1], :] = 200
    out[:, [0, -1]] = 200
    return out


def drawn(pixels: np.ndarray, window: Window | None, size: int) -> CellImage:
    """An image read through ``window``: padding hatched, scale bar drawn; notes for what is missing."""
    if window is None:
        return CellImage(_framed(pixels), note=BUNDLE_NOTE)
    outside = window.outside(size)
    um = window.um_per_px(size)
    pixels = scale_bar(hatch(pixels, outside), um)
    return CellImage(_framed(pixels), um, bool(outside.any()), "" if um else NO_MPP_NOTE)


def _stored(run: Run, cell: int, context: bool, size: int) -> np.ndarray | None:
    path = run.patch_path(cell, context)
    if not path.is_file():
        return None
    return np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BILINEAR))


def _ready(x: float) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def cell_image(reader: PatchReader, run: Run, row: pd.Series | object, settings: PatchSettings, size: int,
               context: bool = False, imported: bool = False) -> CellImage:
    """One cell's patch (or its tissue context) at ``size`` px; a bundle's stored image when it is imported."""
    cell, image, x, y = int(row.cell), row.image, float(row.x), float(row.y)
    if imported:
        pixels = _stored(run, cell, context, size)
        return drawn(pixels, None, size) if pixels is not None else CellImage(_placeholder(size), note=MISSING_TEXT)
    try:
        if context and not _ready(x):
            pixels, _ = reader.context(image, x, y, CONTEXT_EXTENT, size)
            window = reader.window(image, x, y, context=CONTEXT_EXTENT)
            patch = reader.window(image, x, y, settings)
            pixels = _outline(pixels, patch.extent / 2 * size / window.extent + 2)
        else:
            pixels = reader.read(image, x, y, settings, size)
            window = reader.window(image, x, y, settings)
    except (PatchError, OSError) as exc:
        stored = _stored(run, cell, context, size)
        if stored is not None:
            return drawn(stored, None, size)
        return CellImage(_placeholder(size), note=f"{MISSING_TEXT}: {getattr(exc, 'what', exc)}")
    return drawn(pixels, window, size)


def patch_settings(run: Run) -> PatchSettings:
    spec = run.manifest().get("spec", {})
    return PatchSettings(int(spec.get("patch_size", 224)), spec.get("mpp"))


def cell_images(run: Run, cells: pd.DataFrame, context: bool = False, size: int = CARD_PX) -> list[CellImage]:
    """One image per row of ``cells`` (run cell table rows)."""
    settings, imported = patch_settings(run), bool(run.manifest().get("imported_from"))
    with PatchReader() as reader:
        return [cell_image(reader, run, row, settings, size, context, imported)
                for row in cells.itertuples(index=False)]


def context_reason(cells: pd.DataFrame) -> str:
    """Why "Show tissue context" is off for this data ("" when cells have positions on a slide)."""
    if "x" not in cells.columns or cells["x"].isna().all():
        return ("This data set has ready patches only (no slide, no cell position), so there is no surrounding "
                "tissue to show.")
    return ""


def image_grid(images: Sequence[CellImage], captions: Sequence[str], columns: int = 6) -> None:
    """Thumbnails in rows of ``columns``, each with its caption."""
    for start in range(0, len(images), columns):
        cols = st.columns(columns)
        for col, img, cap in zip(cols, images[start : start + columns], captions[start : start + columns],
                                 strict=False):
            col.image(img.pixels, caption=cap, width="stretch")


def notes_caption(images: Sequence[CellImage]) -> None:
    """Each distinct note of the images shown, once."""
    notes = list(dict.fromkeys(n for img in images for n in img.notes if n != MISSING_TEXT))
    if notes:
        st.caption(" ".join(notes))


@dataclass(frozen=True)
class Cards:
    """What every card of one gallery shares: the run, the methods' predictions of the cells, the words."""

    run: Run
    per_cell: pd.DataFrame  # cell_predictions of every method shown (one fit per method)
    axes: Sequence[str]
    positive: str
    negative: str
    columns: Sequence[str] = ()  # the CellTable's columns, for the enlarged view's facts

    def config(self) -> dict[str, object]:
        helps = column_help(self.positive, self.negative)
        prob = prob_column(self.positive)
        return {
            "method": st.column_config.TextColumn("method", help=helps["method"], width=190),
            prob: st.column_config.ProgressColumn(prob, help=helps[prob], min_value=0.0, max_value=1.0,
                                                  format="%.2f", width=120),
            "call": st.column_config.TextColumn("call", help=helps["call"], width=130),
        }

    def table(self, cell: int) -> None:
        st.dataframe(method_table(self.per_cell, cell, self.positive, self.negative), hide_index=True,
                     width="stretch", column_config=self.config())

    def headline(self, row: pd.Series) -> str:
        return " · ".join([f"**{row['truth']}**", *(str(row[a]) for a in self.axes if a in row)])

    def raters(self, row: pd.Series) -> str:
        return f"raters: {agreement_text(float(row.get('agreement', np.nan)), row.get('rater_votes'))}"


def show_cards(cards: Cards, rows: pd.DataFrame, key: str, context: bool, columns: int = 2) -> None:
    """A grid of cards: image, label and domains, raters, every method's answer, and an Enlarge button."""
    images = cell_images(cards.run, rows, context=context)
    for start in range(0, len(rows), columns):
        cols = st.columns(columns)
        chunk = rows.iloc[start : start + columns]
        for col, (_, row), img in zip(cols, chunk.iterrows(), images[start : start + columns], strict=False):
            with col.container(border=True):
                st.image(img.pixels, width="stretch")
                st.markdown(cards.headline(row))
                st.caption(cards.raters(row) + (" · ⚠ reaches past the image edge (hatched)" if img.padded else ""))
                cards.table(int(row["cell"]))
                left, right = st.columns([3, 2], vertical_alignment="center")
                left.caption(f"`{row['cell_id']}`")
                if right.button("Enlarge", key=f"enlarge-{key}-{row['cell']}", icon=":material/zoom_in:",
                                width="stretch"):
                    enlarge(cards, row)
    notes_caption(images)


def enlarge(cards: Cards, row: pd.Series) -> None:
    """A dialog with the cell large, its tissue context, every fact known about it and every method's answer."""

    def body() -> None:
        reason = context_reason(pd.DataFrame([row]))
        settings, imported = patch_settings(cards.run), bool(cards.run.manifest().get("imported_from"))
        with PatchReader() as reader:
            patch = cell_image(reader, cards.run, row, settings, LARGE_PX, False, imported)
            around = None if reason else cell_image(reader, cards.run, row, settings, LARGE_PX, True, imported)
        st.markdown(cards.headline(row))
        left, right = st.columns(2)
        left.image(patch.pixels, caption="the patch the models saw", width="stretch")
        if around is not None:
            right.image(around.pixels, caption="tissue context (green: the patch)", width="stretch")
        else:
            right.info(reason, icon=":material/info:")
        notes_caption([patch, *([around] if around is not None else [])])
        st.caption(cards.raters(row))
        cards.table(int(row["cell"]))
        st.dataframe(cell_facts(row, cards.columns), hide_index=True, width="stretch")

    st.dialog(f"Cell {row['cell_id']}", width="large")(body)()
