"""One synthetic region: tissue layout, annotated cells (mitotic figures and imposters), scanner optics."""

from __future__ import annotations

import numpy as np

from mitoviz.demo.cells import imposter, mitosis
from mitoviz.demo.optics import to_rgb
from mitoviz.demo.parameters import (
    AMBIGUOUS_KINDS,
    CATEGORY_IMPOSTER,
    CATEGORY_MITOTIC,
    CELLS_PER_MPX,
    MITOTIC_MIX,
    MITOTIC_SHARE,
    RATER_SLIP,
    Cell,
    Scanner,
    Tumour,
)
from mitoviz.demo.tissue import draw_tissue, layout, place_cells


def render_image(
    rng: np.random.Generator, scanner: Scanner, tumour: Tumour, size: int
) -> tuple[np.ndarray, list[Cell]]:
    """Render one synthetic region: an RGB array (size × size × 3) and its annotated cells."""
    lay = layout(rng, size, tumour)
    per_image = rng.uniform(*CELLS_PER_MPX) * (size / 1024) ** 2
    centres = place_cells(rng, size, max(4, round(per_image)), lay["tumour"] * (1.0 - lay["lumens"]))
    cv = draw_tissue(rng, size, tumour, centres, lay)
    cells: list[Cell] = []
    mitotic_kinds, mitotic_p = list(MITOTIC_MIX), np.array(list(MITOTIC_MIX.values()))
    imposter_kinds = list(tumour.imposter_mix)
    imposter_p = np.array(list(tumour.imposter_mix.values()))
    for x, y in centres:
        if rng.uniform() < MITOTIC_SHARE:
            kind = str(rng.choice(mitotic_kinds, p=mitotic_p / mitotic_p.sum()))
            mitosis(rng, cv, int(x), int(y), kind, tumour)
            category = CATEGORY_MITOTIC
        else:
            kind = str(rng.choice(imposter_kinds, p=imposter_p / imposter_p.sum()))
            imposter(rng, cv, int(x), int(y), kind, tumour)
            category = CATEGORY_IMPOSTER
        ambiguous = kind in AMBIGUOUS_KINDS or rng.uniform() < RATER_SLIP
        cells.append(Cell(int(x), int(y), category, kind, ambiguous))
    return to_rgb(rng, cv.h, cv.e, scanner), cells
