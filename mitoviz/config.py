"""Settings: where mitoviz keeps things and which machine it computes on.

Read from environment variables, then ``<home>/config.toml`` (or ``MITOVIZ_CONFIG``);
an environment variable wins over the file. Nothing here touches the network.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mitoviz.errors import SpecError


@dataclass(frozen=True)
class Settings:
    home: Path
    data_roots: tuple[Path, ...] = ()
    weights_dir: Path | None = None
    weight_files: dict[str, str] = field(default_factory=dict)
    custom_encoders: tuple[dict[str, Any], ...] = ()
    device: str = "auto"
    dask_address: str | None = None
    allow_download: bool = False
    workers: int = 1
    shard_size: int = 256

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def embeddings_dir(self) -> Path:
        return self.cache_dir / "embeddings"

    @property
    def projections_dir(self) -> Path:
        return self.cache_dir / "projections"

    @property
    def results_dir(self) -> Path:
        return self.home / "results"

    @property
    def exports_dir(self) -> Path:
        """Where the Runs page builds the bundle it offers for download (one at a time)."""
        return self.home / "exports"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def demo_dir(self) -> Path:
        return self.home / "data" / "mitoviz-demo"

    @property
    def weights_root(self) -> Path:
        return self.weights_dir or self.home / "weights"

    def all_data_roots(self) -> tuple[Path, ...]:
        """The configured data roots plus the home data folder (where the demo lives)."""
        roots = list(self.data_roots)
        home_data = self.home / "data"
        if home_data not in roots:
            roots.append(home_data)
        return tuple(roots)

    def resolve_user_path(self, text: str | os.PathLike[str]) -> Path:
        """Resolve a path typed by a user; it must lie under a data root."""
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.all_data_roots()[0] / path
        path = path.resolve()
        for root in self.all_data_roots():
            if path == root.resolve() or root.resolve() in path.parents:
                return path
        roots = ", ".join(str(r) for r in self.all_data_roots())
        raise SpecError(
            f"{path} is outside the data roots ({roots}).",
            "Add its folder to MITOVIZ_DATA_ROOTS or to data_roots in config.toml.",
        )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}.", "Fix or remove the file.") from exc


def _paths(value: Any) -> tuple[Path, ...]:
    if not value:
        return ()
    items = value.split(os.pathsep) if isinstance(value, str) else list(value)
    return tuple(Path(p).expanduser().resolve() for p in items if str(p).strip())


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise SpecError(f"{name}={value!r} is not a whole number ≥ 1.", "Use e.g. 1, 2 or 256.")
    return number


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings from the environment and the config file."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("MITOVIZ_HOME") or Path.home() / ".mitoviz").expanduser().resolve()
    file = _read_toml(Path(env.get("MITOVIZ_CONFIG") or home / "config.toml"))
    weights_dir = env.get("MITOVIZ_WEIGHTS") or file.get("weights_dir")
    workers = _positive_int(env.get("MITOVIZ_WORKERS") or file.get("workers") or 1, "MITOVIZ_WORKERS")
    shard_size = _positive_int(env.get("MITOVIZ_SHARD_SIZE") or file.get("shard_size") or 256, "MITOVIZ_SHARD_SIZE")
    return Settings(
        home=home,
        data_roots=_paths(env.get("MITOVIZ_DATA_ROOTS") or file.get("data_roots")),
        weights_dir=Path(weights_dir).expanduser().resolve() if weights_dir else None,
        weight_files={str(k): str(v) for k, v in (file.get("weights") or {}).items()},
        custom_encoders=tuple(file.get("encoders") or ()),
        device=env.get("MITOVIZ_DEVICE") or file.get("device") or "auto",
        dask_address=env.get("MITOVIZ_DASK_ADDRESS") or file.get("dask_address") or None,
        allow_download=_truthy(env.get("MITOVIZ_ALLOW_DOWNLOAD")) or bool(file.get("allow_download")),
        workers=workers,
        shard_size=shard_size,
    )


def resolve_device(name: Any = "auto", here: bool = True) -> str:
    """The torch device to compute on, as a string (``torch.device(...)`` takes it as it is).

    ``auto`` means the first GPU when torch sees one, else the CPU. ``name`` may be a device name or a
    ``torch.device``. An unknown name, or a GPU torch does not see here, is a SpecError that says what to use.
    ``here=False``: the work goes to a Dask cluster and each worker resolves the device itself, so only the name is
    checked and ``auto`` is kept.
    """
    import torch

    if str(name) == "auto":
        return "auto" if not here else "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise SpecError(f"Unknown device {name!r}.", 'Use "cpu", "cuda", "cuda:N" or "auto".') from exc
    if here and device.type == "cuda":
        if not torch.cuda.is_available():
            raise SpecError(f"Device {name!r} was asked for but CUDA is not available.", 'Use device="cpu".')
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SpecError(f"Device {name!r} was asked for but torch sees {torch.cuda.device_count()} GPU(s).",
                            f'Use "cuda:0" … "cuda:{torch.cuda.device_count() - 1}", or "auto".')
    if here and device.type == "mps" and not torch.backends.mps.is_available():
        raise SpecError(f"Device {name!r} was asked for but this torch has no MPS backend here.", 'Use device="cpu".')
    return str(device)
