"""A fit as a task on a Dask cluster: on a worker that declares a ``GPU`` resource when the device is
CUDA or auto (resolved on the worker), with progress flowing back through a distributed Queue and cancellation
through an Event.

The task is :func:`mitoviz.train.task.run_fit` itself, sent only the cells it touches; its
checkpoint and saved model go to ``job.folder``, which must be shared storage on a real cluster.
When a worker dies mid-fit the scheduler reruns the task elsewhere (up to
``distributed.scheduler.allowed-failures`` times) and the rerun resumes from the checkpoint.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from mitoviz.cluster import connect, task_resources
from mitoviz.config import Settings, resolve_device
from mitoviz.errors import Cancelled
from mitoviz.progress import Reporter
from mitoviz.train.task import FitJob, FitOutcome, run_fit

POLL_SECONDS = 0.2
PROGRESS_EVERY = 0.5  # seconds between progress messages from the worker
CANCEL_GRACE = 60.0  # seconds a cancelled task gets to save its checkpoint and stop


class _RemoteReporter(Reporter):
    """Runs inside the task: progress into a Queue (a few a second, and every stage's last step),
    cancellation read from an Event."""

    def __init__(self, progress: str, cancel: str) -> None:
        self.progress_name, self.cancel_name = progress, cancel
        self._queue: Any = None
        self._event: Any = None
        self._last = 0.0

    def _handles(self) -> tuple[Any, Any]:
        if self._queue is None:
            from distributed import Event, Queue

            self._queue, self._event = Queue(self.progress_name), Event(self.cancel_name)
        return self._queue, self._event

    def update(self, stage: str, done: int, total: int, unit: str = "") -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_EVERY:
            self._last = now
            self._handles()[0].put([stage, int(done), int(total), unit])

    def cancelled(self) -> bool:
        return bool(self._handles()[1].is_set())


def _fit_task(job: FitJob, device: str, settings: Settings | None, progress: str, cancel: str) -> FitOutcome:
    return run_fit(job, _RemoteReporter(progress, cancel), resolve_device(device), settings)  # this worker's device


def run_fit_on_dask(
    address: Any,
    job: FitJob,
    reporter: Reporter | None = None,
    device: str = "cpu",
    settings: Settings | None = None,
) -> FitOutcome:
    """Run :func:`run_fit` for ``job`` as one task; ``address`` is a scheduler address or a Client.

    Progress arrives at ``reporter`` a few times a second; when ``reporter.check()`` raises
    ``Cancelled`` the task is told, stops within one batch after saving its checkpoint, and
    ``Cancelled`` is raised here.
    """
    from distributed import Event, Queue

    reporter = reporter or Reporter()
    client, owned = connect(address, "train")
    token = uuid.uuid4().hex[:12]
    progress, cancel = f"mitoviz-train-progress-{token}", f"mitoviz-train-cancel-{token}"
    try:
        future = client.submit(
            _fit_task,
            job.subset(),
            device,
            settings,
            progress,
            cancel,
            pure=False,
            resources=task_resources(client, device),
            key=f"train-{job.method.method_id}-seed{job.seed}-{token}",
        )
        queue, event = Queue(progress, client=client), Event(cancel, client=client)
        try:
            while not future.done():
                time.sleep(POLL_SECONDS)
                _forward_progress(queue, reporter)
                try:
                    reporter.check()
                except Cancelled:
                    event.set()
                    deadline = time.monotonic() + CANCEL_GRACE
                    while not future.done() and time.monotonic() < deadline:
                        time.sleep(POLL_SECONDS)
                    raise
            _forward_progress(queue, reporter)
            return future.result()
        finally:
            future.cancel()
            queue.close()
            event.clear()
    finally:
        if owned:
            client.close()


def _forward_progress(queue: Any, reporter: Reporter) -> None:
    for stage, done, total, unit in queue.get(batch=True):  # all messages waiting, without blocking
        reporter.update(stage, done, total, unit)
