"""What the Dask backends share: a client for the configured scheduler, and the resources a task asks for."""

from __future__ import annotations

from typing import Any

from mitoviz.errors import MitovizError


def connect(address: Any, doing: str) -> tuple[Any, bool]:
    """(client, owned): a new Client for a scheduler address, or the Client passed in (not owned: not closed here)."""
    from distributed import Client

    if not isinstance(address, str):
        return address, False
    try:
        return Client(address, timeout=10), True
    except OSError as exc:
        raise MitovizError(
            f"Cannot reach the Dask scheduler at {address} ({exc}).",
            f"Start the cluster, or unset MITOVIZ_DASK_ADDRESS to {doing} on this machine.",
        ) from exc


def task_resources(client: Any, device: str) -> dict[str, int] | None:
    """``{"GPU": 1}`` when the task may use a GPU (``cuda…`` or ``auto``) and some worker declares a ``GPU``
    resource, so it lands on one; else no restriction."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {}).values()
    if (device == "auto" or device.startswith("cuda")) and any("GPU" in w.get("resources", {}) for w in workers):
        return {"GPU": 1}
    return None
