"""SIGKILL a real training process mid-fit; a new process resumes from its checkpoint and ends with the
weights and predictions of an uninterrupted fit."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mitoviz.train import TrainedModel, TrainMethod, train_fit
from mitoviz.train.checkpoint import load_state

from .inputs import positives

REPO = Path(__file__).resolve().parents[2]


def _start(cells_csv: Path, out: Path, method: TrainMethod, seed: int, delay: float) -> subprocess.Popen:
    args = [str(cells_csv), str(out), json.dumps(method.to_dict()), str(seed), str(delay)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.train.fit_process", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_mid_fit(process: subprocess.Popen, folder: Path, timeout: float = 180.0) -> dict:
    """Poll the checkpoint until the fit is inside its second epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, _ = load_state(folder)
        if state is not None and state["epoch"] >= 1 and state["step"] >= 1:
            return state
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.05)
    raise AssertionError("the fit never reached its second epoch")


@pytest.mark.slow
def test_a_killed_fit_resumes_in_a_new_process_to_the_uninterrupted_result(slide_cells, tiny_vit, tmp_path):
    cells = slide_cells[slide_cells["slide"].isin(["slide0", "slide1", "slide2", "slide3"])].reset_index(
        drop=True
    )
    cells_csv = tmp_path / "cells.csv"
    cells.to_csv(cells_csv, index=False)
    # LoRA dropout, stain and colour augmentation: every random stream has to line up after the resume
    method = TrainMethod.fmc_lora(
        tiny_vit, extent=48, epochs=3, samples_per_epoch=32, batch_size=8, lr=3e-3, stain=True, blur_p=0.2
    )
    out = tmp_path / "fit"
    first = _start(cells_csv, out, method, 7, delay=0.25)
    state = _wait_for_mid_fit(first, out / "checkpoint")
    first.kill()  # SIGKILL: no handler runs, no last checkpoint is written
    first.wait(timeout=30)
    assert first.returncode == -9 and not (out / "probs.npy").exists()
    assert not state["finished"] and state["epoch"] < method.epochs

    second = _start(cells_csv, out, method, 7, delay=0.0)
    log = second.communicate(timeout=300)[0]
    assert second.returncode == 0, log
    resumed = TrainedModel.load(out / "model")
    assert resumed.record.resumed == 1 and resumed.record.epochs_run == 3

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole = train_fit(method, cells, np.arange(len(cells)), positives(cells), seed=7, workers=0)
    finally:
        torch.set_num_threads(threads)
    whole.save(tmp_path / "whole")
    saved_whole = load_file(tmp_path / "whole" / "adapter_model.safetensors")
    saved_resumed = load_file(out / "model" / "adapter_model.safetensors")
    assert saved_whole.keys() == saved_resumed.keys()
    for key, value in saved_whole.items():  # bit for bit: same machine, one thread on both sides
        assert torch.equal(saved_resumed[key], value), key
    assert np.array_equal(np.load(out / "probs.npy"), whole.predict(cells))
    assert len(resumed.record.history) == len(whole.record.history)
    for resumed_epoch, whole_epoch in zip(resumed.record.history, whole.record.history, strict=True):
        assert resumed_epoch == pytest.approx(whole_epoch)  # pytest ≥ 9.2 compares no nested structures
