"""A fit as a task on a real distributed.LocalCluster gives the numbers of the local path."""

import numpy as np
import pytest

from mitoviz.cluster import task_resources
from mitoviz.errors import Cancelled
from mitoviz.progress import RecordingReporter
from mitoviz.train import FitJob, TrainedModel, TrainMethod, run_fit, run_fit_on_dask
from mitoviz.train.checkpoint import load_state

from .inputs import positives


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            processes=False, n_workers=1, threads_per_worker=1, resources={"GPU": 1}, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _job(cells, folder, **changes):
    train = np.flatnonzero(cells["slide"].isin(["slide0", "slide2", "slide3", "slide5"]).to_numpy())
    test = np.setdiff1d(np.arange(len(cells)), train)
    return FitJob(
        TrainMethod.cpu_cnn(**changes),
        cells,
        train,
        positives(cells),
        test,
        seed=4,
        folder=folder,
        feature_rows=test[:6],
        workers=0,
    )


def test_a_dask_fit_gives_the_local_predictions_and_streams_progress(client, slide_cells, tmp_path):
    local = run_fit(_job(slide_cells, tmp_path / "local"))
    reporter = RecordingReporter()
    remote = run_fit_on_dask(client, _job(slide_cells, tmp_path / "dask"), reporter)
    assert np.array_equal(remote.probs, local.probs) and remote.probs.shape == (24,)
    assert np.array_equal(remote.features, local.features) and remote.features.shape == (6, 128)
    assert remote.record.history == local.record.history
    train = [u for u in reporter.updates if u[0] == "train e2e-small-cnn"]
    assert train[-1] == ("train e2e-small-cnn", 8, 8)  # 4 epochs × 2 batches; every stage's last step is sent
    assert [u[1] for u in train] == sorted(u[1] for u in train)
    assert reporter.updates[-1] == ("features e2e-small-cnn", 6, 6)
    reloaded = TrainedModel.load(remote.model_dir)
    assert np.array_equal(reloaded.predict(slide_cells, _job(slide_cells, None).predict_rows), local.probs)


def test_cancelling_a_dask_fit_stops_the_task_and_keeps_its_checkpoint(client, slide_cells, tmp_path):
    job = _job(slide_cells, tmp_path, epochs=400, patience=None)
    with pytest.raises(Cancelled):
        run_fit_on_dask(client, job, RecordingReporter(cancel_after=1))
    state, _ = load_state(tmp_path / "checkpoint")
    assert state is not None and not state["finished"] and state["epoch"] < 400


def test_cuda_fits_ask_for_a_gpu_worker_only_where_one_is_declared(client):
    assert task_resources(client, "cuda") == {"GPU": 1}
    assert task_resources(client, "cpu") is None
    assert task_resources(client, "auto") == {"GPU": 1}  # resolved on the worker it lands on


def test_a_jobs_subset_keeps_every_row_set_on_the_same_cells(slide_cells):
    y = (slide_cells["label"] == "mitotic figure").to_numpy().astype(int)
    job = FitJob(TrainMethod.cpu_cnn(), slide_cells, np.array([0, 1, 2]), y, np.array([9, 8, 7]),
                 feature_rows=np.array([1, 5]), val_rows=np.array([4, 3]))
    sub = job.subset()
    ids, sub_ids = slide_cells["cell_id"].to_numpy(), sub.cells["cell_id"].to_numpy()
    for rows in ("train_rows", "predict_rows", "feature_rows", "val_rows"):
        assert list(sub_ids[getattr(sub, rows)]) == list(ids[getattr(job, rows)]), rows
    assert list(sub.labels) == list(y[np.unique([0, 1, 2, 9, 8, 7, 1, 5, 4, 3])])
