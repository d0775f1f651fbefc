"""A fit in its own process, for the kill-and-resume test:

    python -m tests.train.fit_process CELLS.csv OUT_DIR METHOD_JSON SEED DELAY

trains with a checkpoint in OUT_DIR/checkpoint (after every batch, sleeping DELAY s before each so a
test can kill it mid-fit), then saves the model to OUT_DIR/model and P(positive) for every cell to
OUT_DIR/probs.npy. One torch thread, so its arithmetic matches a one-thread fit in the test process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mitoviz.progress import Reporter
from mitoviz.train import TrainMethod, train_fit

from .inputs import positives, register_tiny_vit


class SlowReporter(Reporter):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def check(self) -> None:
        time.sleep(self.delay)


def main(argv: list[str]) -> None:
    cells_csv, out, method_json, seed, delay = argv
    torch.set_num_threads(1)
    register_tiny_vit()
    cells = pd.read_csv(cells_csv)
    out_dir = Path(out)
    model = train_fit(
        TrainMethod.from_dict(json.loads(method_json)),
        cells,
        np.arange(len(cells)),
        positives(cells),
        seed=int(seed),
        checkpoint_dir=out_dir / "checkpoint",
        reporter=SlowReporter(float(delay)),
        checkpoint_seconds=0,
        workers=0,
    )
    model.save(out_dir / "model")
    np.save(out_dir / "probs.npy", model.predict(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
