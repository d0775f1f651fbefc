import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from sklearn.metrics import roc_auc_score

from mitoviz.errors import BudgetError, Cancelled, StorageError
from mitoviz.progress import RecordingReporter
from mitoviz.train import TrainedModel, TrainMethod, train_fit
from mitoviz.train.checkpoint import load_state
from mitoviz.train.nets import build_encoder_net

from .inputs import positives

TRAIN_SLIDES = ["slide0", "slide1", "slide2", "slide3"]


def _rows(cells, train=True):
    return np.flatnonzero(cells["slide"].isin(TRAIN_SLIDES).to_numpy() == train)


def _tiny_lora(tiny_vit, **changes):
    return TrainMethod.fmc_lora(
        tiny_vit,
        **{
            "extent": 48,
            "epochs": 2,
            "samples_per_epoch": 32,
            "batch_size": 16,
            "lr": 3e-3,
            "scheduler": "none",
            **changes,
        },
    )


@pytest.fixture(scope="module")
def lora_fit(slide_cells, tiny_vit):
    return train_fit(_tiny_lora(tiny_vit), slide_cells, _rows(slide_cells), positives(slide_cells), seed=2)


def test_cpu_cnn_learns_the_easy_task_and_records_the_fit(slide_cells):
    y = positives(slide_cells)
    model = train_fit(TrainMethod.cpu_cnn(epochs=6), slide_cells, _rows(slide_cells), y, seed=0)
    r = model.record
    assert (r.method, r.kind, r.init, r.validation, r.monitor) == (
        "e2e-small-cnn",
        "e2e",
        "random",
        "slide",
        "loss",
    )
    assert r.n_train + r.n_val == 48 and r.n_val > 0 and 1 <= r.best_epoch <= r.epochs_run <= 6
    assert r.trainable_params == r.total_params > 0 and r.seconds > 0 and len(r.history) == r.epochs_run
    assert not set(slide_cells["slide"].iloc[model.val_rows]) & set(
        slide_cells["slide"].iloc[np.setdiff1d(_rows(slide_cells), model.val_rows)]
    )
    test = _rows(slide_cells, train=False)
    probs = model.predict(slide_cells, test, batch_size=7)
    assert probs.shape == (24,) and ((probs >= 0) & (probs <= 1)).all()
    assert roc_auc_score(y[test], probs) > 0.8
    features = model.features(slide_cells, test[:5])
    assert features.shape == (5, 128) and np.isfinite(features).all()
    assert json.dumps(r.to_row())  # flat and JSON-able for fits.parquet


def test_lora_trains_only_adapters_and_head_and_leaves_every_base_weight_bit_identical(lora_fit, tiny_vit):
    fresh, _, _ = build_encoder_net(tiny_vit, None)  # the same random-init encoder, untouched
    base = dict(fresh.body.named_parameters())
    trained = dict(lora_fit.core.body.named_parameters())
    frozen = {n: p for n, p in trained.items() if "lora_" not in n}
    assert len(frozen) == len(base)
    for name, p in frozen.items():
        assert torch.equal(p, base[name.replace(".base_layer", "")]), name
        assert not p.requires_grad
    lora_b = [p for n, p in trained.items() if ".lora_B." in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # lora_B starts at zero: it trained
    head = lora_fit.core.head.modules_to_save["default"].weight
    assert not torch.equal(head, lora_fit.core.head.original_module.weight)
    assert lora_fit.record.trainable_params < lora_fit.record.total_params / 2


def test_saved_adapter_is_alone_and_reloads_to_identical_predictions(lora_fit, slide_cells, tmp_path):
    folder = lora_fit.save(tmp_path / "fit")
    assert {"adapter_config.json", "adapter_model.safetensors", "fit.json"} <= {
        p.name for p in folder.iterdir()
    }
    with safe_open(folder / "adapter_model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert keys and all("lora_" in k or "head" in k for k in keys)
    config = json.loads((folder / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["lora_dropout"], config["bias"]) == (
        16,
        16,
        0.1,
        "none",
    )
    again = TrainedModel.load(folder)
    test = _rows(slide_cells, train=False)
    assert np.array_equal(again.predict(slide_cells, test), lora_fit.predict(slide_cells, test))
    assert np.array_equal(again.features(slide_cells, test[:3]), lora_fit.features(slide_cells, test[:3]))
    assert again.record.to_row() == lora_fit.record.to_row()
    meta = json.loads((folder / "fit.json").read_text())
    for broken in ({k: v for k, v in meta.items() if k != "geometry"}, {**meta, "record": {"seed": 1}}):
        (folder / "fit.json").write_text(json.dumps(broken))  # an older or foreign fit.json
        with pytest.raises(StorageError, match="does not hold a fit saved by this version"):
            TrainedModel.load(folder)


@pytest.mark.parametrize("kind", ["finetune", "e2e"])
def test_full_weights_save_as_safetensors_and_reload(kind, slide_cells, tiny_vit, tmp_path):
    method = (
        TrainMethod.fmc_finetune(tiny_vit, extent=48, epochs=1, samples_per_epoch=32)
        if kind == "finetune"
        else TrainMethod.cpu_cnn(epochs=1)
    )
    model = train_fit(method, slide_cells, _rows(slide_cells), positives(slide_cells), seed=1)
    assert model.record.trainable_params == model.record.total_params
    again = TrainedModel.load(model.save(tmp_path / kind))
    assert (tmp_path / kind / "model.safetensors").is_file()
    rows = _rows(slide_cells, train=False)
    assert np.array_equal(again.predict(slide_cells, rows), model.predict(slide_cells, rows))


def test_cancel_stops_within_one_batch_and_keeps_a_checkpoint(slide_cells, tmp_path):
    reporter = RecordingReporter(cancel_after=3)  # cancelled once three batches have reported
    with pytest.raises(Cancelled):
        train_fit(
            TrainMethod.cpu_cnn(batch_size=8),
            slide_cells,
            _rows(slide_cells),
            positives(slide_cells),
            checkpoint_dir=tmp_path,
            reporter=reporter,
            checkpoint_seconds=3600,
        )
    assert [u[1] for u in reporter.updates] == [1, 2, 3]  # no fourth batch ran
    state, _ = load_state(tmp_path)
    assert (state["epoch"], state["step"], state["finished"]) == (0, 3, False)


def test_resume_after_cancel_gives_the_uninterrupted_weights_with_any_worker_count(slide_cells, tmp_path):
    method = TrainMethod.cpu_cnn(
        epochs=3,
        stain=True,
        rotate_degrees=20,
        color_jitter=(0.1, 0.1, 0.1, 0.05),
        blur_p=0.2,
        crop_scale=0.6,
    )
    args = (method, slide_cells, _rows(slide_cells), positives(slide_cells))
    whole = train_fit(*args, seed=5)
    # two batches an epoch: cancelled first at the end of epoch 1 (inside the BatchNorm update), then
    # in the middle of epoch 3, then resumed to the end with DataLoader workers
    for cancel_after, where in ((2, (0, 2)), (3, (2, 1))):
        with pytest.raises(Cancelled):
            train_fit(
                *args,
                seed=5,
                checkpoint_dir=tmp_path,
                reporter=RecordingReporter(cancel_after=cancel_after),
                checkpoint_seconds=3600,
            )
        state, _ = load_state(tmp_path)
        assert (state["epoch"], state["step"]) == where
    resumed = train_fit(*args, seed=5, checkpoint_dir=tmp_path, workers=2)
    assert resumed.record.resumed == 2 and resumed.record.stain_augmented == whole.record.stain_augmented > 0
    for (name, a), b in zip(whole.net.state_dict().items(), resumed.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    finished = train_fit(*args, seed=5, checkpoint_dir=tmp_path)  # a finished checkpoint: nothing to train
    assert finished.record.resumed == 3 and finished.record.history == resumed.record.history
    assert np.array_equal(finished.predict(slide_cells), whole.predict(slide_cells))


def test_a_checkpoint_of_another_fit_is_ignored_and_noted(slide_cells, tmp_path):
    args = (TrainMethod.cpu_cnn(epochs=1), slide_cells, _rows(slide_cells), positives(slide_cells))
    train_fit(*args, seed=0, checkpoint_dir=tmp_path)
    other = train_fit(*args, seed=1, checkpoint_dir=tmp_path)
    assert other.record.resumed == 0 and "another fit" in other.record.to_row()["notes"]


def test_early_stopping_restores_the_best_epoch(slide_cells):
    method = TrainMethod.cpu_cnn(epochs=8, patience=1, lr=0.05)
    model = train_fit(method, slide_cells, _rows(slide_cells), positives(slide_cells), seed=3)
    r = model.record
    losses = [h["val_loss"] for h in r.history]
    assert r.stopped_early and r.epochs_run == r.best_epoch + 1 < 8
    assert r.best_val_loss == min(losses) < losses[-1]
    probs = torch.as_tensor(model.predict(slide_cells, model.val_rows), dtype=torch.float64)
    y = torch.as_tensor(positives(slide_cells)[model.val_rows], dtype=torch.float64)
    assert torch.nn.functional.binary_cross_entropy(probs, y).item() == pytest.approx(
        r.best_val_loss, abs=1e-5
    )


def test_blank_patches_pass_through_stain_augmentation_and_are_counted(slide_cells, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (192, 192), (245, 245, 245)).save(blank)
    cells = slide_cells.head(24).assign(image=str(blank))
    method = TrainMethod.cpu_cnn(epochs=2, samples_per_epoch=32, stain=True, stain_p=1.0)
    record = train_fit(method, cells, np.arange(24), positives(cells)).record
    assert (record.stain_passthrough, record.stain_augmented) == (64, 0)
    assert "passed 64 patch(es) through unchanged" in record.to_row()["notes"]


def test_one_class_budget_is_refused(slide_cells):
    rows = np.flatnonzero(positives(slide_cells) == 1)
    with pytest.raises(BudgetError, match="both classes"):
        train_fit(TrainMethod.cpu_cnn(), slide_cells, rows, positives(slide_cells))


def test_validation_cells_given_by_the_plan_are_used_as_given(slide_cells):
    y = positives(slide_cells)
    train = _rows(slide_cells)
    held, fit_rows = train[::4], np.setdiff1d(train, train[::4])  # e.g. the published 20 % or a fold
    model = train_fit(TrainMethod.cpu_cnn(epochs=1), slide_cells, fit_rows, y, seed=0, val_rows=held)
    assert model.record.validation == "given" and model.record.n_val == len(held)
    assert model.record.n_train == len(fit_rows) and np.array_equal(np.sort(model.val_rows), np.sort(held))
