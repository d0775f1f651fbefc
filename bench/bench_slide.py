"""Patch reads on a real Aperio slide (CMU-1-Small-Region, CC0): PatchReader against a plain loop.

Baseline, measured in the same run: for every cell, open the slide with OpenSlide, ``read_region`` a
224 px patch at level 0, convert to RGB, close. PatchReader keeps the slide open and reads the same
patches. Also a read at 0.998 µm/px (224 → 112 px). Prints rates and their ratio; checks the pixels agree.

    python bench/bench_slide.py [--cells 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import openslide

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitoviz.data.patches import PatchReader, PatchSettings
from tests.conftest import fetch_real_slide

SIZE = 224


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=600)
    args = parser.parse_args()
    slide_path = fetch_real_slide(Path.home() / ".cache" / "mitoviz-tests")
    width, height = openslide.OpenSlide(str(slide_path)).dimensions
    rng = np.random.default_rng(0)
    xs = rng.integers(SIZE, width - SIZE, args.cells)
    ys = rng.integers(SIZE, height - SIZE, args.cells)

    started = time.perf_counter()
    plain = []
    for x, y in zip(xs, ys, strict=True):
        slide = openslide.OpenSlide(str(slide_path))
        plain.append(np.asarray(slide.read_region((int(x) - SIZE // 2, int(y) - SIZE // 2), 0, (SIZE, SIZE)).convert("RGB")))
        slide.close()
    loop_s = time.perf_counter() - started

    started = time.perf_counter()
    with PatchReader() as reader:
        ours = [reader.read(slide_path, float(x), float(y), PatchSettings(SIZE)) for x, y in zip(xs, ys, strict=True)]
    reader_s = time.perf_counter() - started

    started = time.perf_counter()
    with PatchReader() as reader:
        for x, y in zip(xs, ys, strict=True):
            reader.read(slide_path, float(x), float(y), PatchSettings(112, mpp=0.998))
    mpp_s = time.perf_counter() - started

    same = all(np.array_equal(a, b) for a, b in zip(plain, ours, strict=True))
    print(f"real slide {slide_path.name}: {width}×{height} px, {args.cells} random cells, {SIZE} px patches")
    print(f"  plain loop (open + read_region + close per cell): {args.cells / loop_s:8.1f} patches/s")
    print(f"  PatchReader, level 0:                            {args.cells / reader_s:8.1f} patches/s")
    print(f"  PatchReader, 0.998 µm/px (224 → 112 px):         {args.cells / mpp_s:8.1f} patches/s")
    print(f"  ratio PatchReader / plain loop: {loop_s / reader_s:.2f}×  (identical pixels: {same})")


if __name__ == "__main__":
    main()
