"""Demo-set generation time, and the patch-read rate against a plain OpenSlide loop.

Baseline (measured in the same run): for every cell, open the slide and call ``read_region``, as a
first script would. mitoviz: one PatchReader that keeps slides open and reads cells slide by slide.

    python bench/bench_data.py [--cells N] [--size PX]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import openslide

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.data.sources import load_dataset
from mitoviz.demo import generate_demo


def plain_loop(cells, size: int) -> np.ndarray:
    out = np.empty((len(cells), size, size, 3), np.uint8)
    for i, row in enumerate(cells.itertuples()):
        slide = openslide.OpenSlide(row.image)
        region = slide.read_region((int(row.x - size / 2), int(row.y - size / 2)), 0, (size, size))
        out[i] = np.asarray(region.convert("RGB"))
        slide.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        json_path = generate_demo(Path(tmp) / "demo")
        gen = time.perf_counter() - t0
        cells = load_dataset(str(json_path)).cells
        cells = cells.sample(min(args.cells, len(cells)), random_state=0)  # random order, as a sampler gives
        print(f"demo set: {len(load_dataset(str(json_path)).cells)} cells in {gen:.1f} s")
        plain_loop(cells.head(20), args.size)  # warm the file cache for both
        t0 = time.perf_counter()
        plain = plain_loop(cells, args.size)
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        with PatchReader() as reader:
            ours, ok = reader.read_cells(cells, PatchSettings(args.size))
        mine = time.perf_counter() - t0
        half = args.size / 2
        inside = ((cells["x"] >= half) & (cells["y"] >= half) & (cells["x"] + half <= 1024)
                  & (cells["y"] + half <= 1024)).to_numpy()  # the plain loop pads with black, mitoviz with white
        same = float(np.abs(ours[inside].astype(int) - plain[inside].astype(int)).max())
        print(f"patches ({args.size} px, {len(cells)} cells, {ok.sum()} read): plain loop {len(cells) / base:.0f}/s, "
              f"PatchReader {len(cells) / mine:.0f}/s, ratio {base / mine:.2f}x; "
              f"max |difference| on {inside.sum()} interior cells: {same}")


if __name__ == "__main__":
    main()
