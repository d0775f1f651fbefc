"""Finding encoder weights and loading them safely and strictly.

Search order: an explicit path (argument, then ``settings.weight_files[name]``, then a custom
encoder's checkpoint), the weights folder (``<weights_root>/<name>/<published file>``), the Hugging Face
cache (offline), and a download only when ``settings.allow_download``.

Safety: safetensors, or ``torch.load(weights_only=True)``; a checkpoint that needs code to unpickle is
refused and its payload never runs. Strictness: every key must fit; differences are listed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitoviz.config import Settings
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.errors import SpecError, StorageError, WeightsError

if TYPE_CHECKING:
    import torch
    from torch import nn

DIGEST_CACHE = "weights-sha256.json"


class MissingWeights(WeightsError):
    """No weights anywhere mitoviz looks (as opposed to a path that is configured but wrong)."""


@dataclass(frozen=True)
class WeightsLocation:
    """Where an encoder's weights were found: the file, how it was found, config.json beside it."""

    file: Path
    source: str
    config: Path | None = None


@dataclass(frozen=True)
class EncoderStatus:
    """One line of ``python -m mitoviz encoders``: what an encoder is and whether it can run here."""

    name: str
    title: str
    family: str
    library: str
    dim: int | None
    params_m: float | None
    needs_weights: bool
    available: bool
    location: str | None = None
    source: str | None = None
    reason: str | None = None
    how_to_get: str | None = None
    hf_repo: str | None = None
    url: str | None = None
    gated: bool = False
    licence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- locating -------------------------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def hf_offline() -> bool:
    """True when the environment forbids Hugging Face network access."""
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _needs_config(spec: EncoderSpec) -> bool:
    return spec.library == "transformers"


def _location(path: Path, spec: EncoderSpec, source: str) -> WeightsLocation:
    """A location from a path somebody gave: a weights file, or a folder holding a published file."""
    path = path.expanduser()
    if path.is_dir():
        file = next((path / f for f in spec.weight_files if (path / f).is_file()), None)
        if file is None:
            raise WeightsError(
                f"{path} ({source}) holds none of {', '.join(spec.weight_files)} for {spec.name}.",
                "Point at the weights file itself or put the published file in that folder.",
            )
    elif path.is_file():
        file = path
    else:
        raise WeightsError(
            f"{path} ({source}) does not exist.",
            f"Fix the path or remove it to let mitoviz search. {spec.how_to_get}",
        )
    config = file.parent / "config.json"
    if _needs_config(spec) and not config.is_file():
        raise WeightsError(
            f"{file} has no config.json beside it; {spec.title} is a transformers model and needs one.",
            f"Keep the Hugging Face folder layout (config.json + {file.name}) from https://huggingface.co/{spec.hf_repo}.",
        )
    return WeightsLocation(file.resolve(), source, config.resolve() if config.is_file() else None)


def _from_hf_cache(spec: EncoderSpec) -> WeightsLocation | None:
    if not spec.hf_repo:
        return None
    from huggingface_hub import try_to_load_from_cache

    cache = hf_cache_dir()
    if not cache.is_dir():
        return None
    for name in spec.weight_files:
        found = try_to_load_from_cache(spec.hf_repo, name, cache_dir=cache)
        if isinstance(found, str):
            file = Path(found)
            config = try_to_load_from_cache(spec.hf_repo, "config.json", cache_dir=cache)
            config_path = Path(config) if isinstance(config, str) else None
            if _needs_config(spec) and config_path is None:
                raise WeightsError(
                    f"The Hugging Face cache holds {name} of {spec.hf_repo} but not its config.json.",
                    "Download the whole repository (config.json too), e.g. `huggingface-cli download "
                    f"{spec.hf_repo}`.",
                )
            return WeightsLocation(
                file.resolve(), "Hugging Face cache", config_path.resolve() if config_path else None
            )
    return None


def find_weights(spec: EncoderSpec, settings: Settings, explicit: Path | None = None) -> WeightsLocation:
    """Where the weights for ``spec`` are, looking only at the file system (never the network).

    Raises MissingWeights when nothing is found, WeightsError when a configured path is wrong.
    """
    if explicit is not None:
        return _location(Path(explicit), spec, "given path")
    configured = {k.strip().lower(): v for k, v in settings.weight_files.items()}.get(spec.name)
    if configured:
        return _location(Path(configured), spec, f"config.toml [weights] {spec.name}")
    if spec.checkpoint:
        return _location(Path(spec.checkpoint), spec, "config.toml [[encoders]] checkpoint")
    folder = settings.weights_root / spec.name
    for name in spec.weight_files:
        if (folder / name).is_file():
            return _location(folder / name, spec, "weights folder")
    cached = _from_hf_cache(spec)
    if cached is not None:
        return cached
    looked = [f"{folder}/ ({', '.join(spec.weight_files)})"]
    if spec.hf_repo:
        looked.append(f"the Hugging Face cache ({spec.hf_repo})")
    raise MissingWeights(
        f"No weights for {spec.title} ({spec.name}); looked in {' and '.join(looked)}.", spec.how_to_get
    )


def _downloadable(spec: EncoderSpec) -> bool:
    return bool(spec.hf_repo or spec.download_url)


def _download(spec: EncoderSpec, settings: Settings) -> WeightsLocation:
    if spec.hf_repo:
        if hf_offline():
            raise MissingWeights(
                f"{spec.title} is not in the Hugging Face cache and HF_HUB_OFFLINE is set, so it cannot be downloaded.",
                f"Unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) to download, or: {spec.how_to_get}",
            )
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, HfHubHTTPError

        token = os.environ.get("HF_TOKEN") or None
        cache = hf_cache_dir()
        try:
            for name in spec.weight_files:
                try:
                    file = hf_hub_download(spec.hf_repo, name, cache_dir=cache, token=token)
                except EntryNotFoundError:
                    continue
                config = None
                if _needs_config(spec):
                    config = Path(hf_hub_download(spec.hf_repo, "config.json", cache_dir=cache, token=token))
                return WeightsLocation(Path(file).resolve(), "downloaded (Hugging Face)", config)
        except GatedRepoError as exc:
            raise WeightsError(
                f"{spec.hf_repo} is gated and this account has no access ({exc}).",
                "Request access on the model page, then set HF_TOKEN to a token of that account.",
            ) from exc
        except (HfHubHTTPError, OSError) as exc:
            raise WeightsError(f"Downloading {spec.hf_repo} failed: {exc}.", spec.how_to_get) from exc
        raise WeightsError(f"{spec.hf_repo} has none of {', '.join(spec.weight_files)}.", spec.how_to_get)
    if spec.download_url:
        target = settings.weights_root / spec.name / spec.weight_files[0]
        download_file(spec.download_url, target)
        return _location(target, spec, "downloaded")
    raise MissingWeights(f"{spec.title} cannot be downloaded automatically.", spec.how_to_get)


def download_file(url: str, target: Path) -> None:
    """Download ``url`` to ``target`` through a temporary file (never a half-written target)."""
    import torch.hub

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        torch.hub.download_url_to_file(url, str(partial), progress=False)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise WeightsError(f"Downloading {url} failed: {exc}.", f"Download it by hand to {target}.") from exc


def fetch_weights(spec: EncoderSpec, settings: Settings, explicit: Path | None = None) -> WeightsLocation:
    """``find_weights``, then a download when the settings allow it."""
    try:
        return find_weights(spec, settings, explicit)
    except MissingWeights as exc:
        if not settings.allow_download or not _downloadable(spec):
            hint = " Or set MITOVIZ_ALLOW_DOWNLOAD=1 to download it." if _downloadable(spec) else ""
            raise MissingWeights(exc.what, exc.fix + hint) from None
        return _download(spec, settings)


# ---- reading --------------------------------------------------------------------------------------


def _looks_like_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(9)
    except OSError:
        return False
    if len(head) < 9:
        return False
    size = int.from_bytes(head[:8], "little")
    return 0 < size < path.stat().st_size and head[8:9] == b"{"


def read_checkpoint(path: Path) -> Any:
    """The object stored in a weights file, read without executing anything from it."""
    path = Path(path)
    if _looks_like_safetensors(path):
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise WeightsError(
                f"{path} is not a readable safetensors file ({exc}).",
                "Download it again; the file may be truncated.",
            ) from exc
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported (global|operand)[:\s]+(?:GLOBAL\s+)?([\w.<>]+)", str(exc))
        detail = f"it calls {found.group(2)}" if found else str(exc).splitlines()[0]
        raise WeightsError(
            f"{path} was refused: unpickling it would run code ({detail}), and mitoviz never runs code from a "
            "weights file.",
            "If you trust its source, convert it once in a separate Python session: "
            "`sd = torch.load(path, weights_only=False)`, keep only the tensors, "
            "`safetensors.torch.save_file(sd, 'model.safetensors')`, and point mitoviz at that file.",
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(
            f"{path} cannot be read as a PyTorch checkpoint ({message}).",
            "Download it again; the file may be truncated or of another format.",
        ) from exc


def _is_state_dict(obj: Any) -> bool:
    import torch

    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _examples(keys: list[str], n: int = 6) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", … (+{len(keys) - n} more)" if len(keys) > n else "")


def prepare_state_dict(obj: Any, spec: EncoderSpec, path: Path) -> dict[str, torch.Tensor]:
    """Unwrap and rename the keys of a checkpoint as the spec says (wrapper, prefixes, dropped keys)."""
    sd = obj
    for _ in range(3):
        if _is_state_dict(sd):
            break
        if not isinstance(sd, Mapping):
            raise WeightsError(
                f"{path} holds a {type(sd).__name__}, not a state dict.",
                f"Use the published file for {spec.title}: {spec.how_to_get}",
            )
        key = next((k for k in spec.wrapper_keys if isinstance(sd.get(k), Mapping)), None)
        if key is None:
            raise WeightsError(
                f"{path} is not a state dict: its top-level keys are {_examples([str(k) for k in sd])}; "
                f"{spec.name} looks for the weights under {', '.join(spec.wrapper_keys) or 'no wrapper key'}.",
                f"Use the published file for {spec.title}: {spec.how_to_get}",
            )
        sd = sd[key]
    else:
        raise WeightsError(f"{path} nests its tensors too deeply to be a state dict.", spec.how_to_get)
    sd = dict(sd)
    if spec.keep_prefix:
        kept = {k.split(spec.keep_prefix, 1)[1]: v for k, v in sd.items() if spec.keep_prefix in k}
        if not kept:
            raise WeightsError(
                f"No key in {path} contains {spec.keep_prefix!r} (e.g. {_examples(list(sd), 3)}).",
                f"{spec.name} expects the published wrapper layout. {spec.how_to_get}",
            )
        sd = kept
    for prefix in spec.strip_prefixes:
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    if spec.drop_keys:
        sd = {k: v for k, v in sd.items() if not any(fnmatch.fnmatchcase(k, p) for p in spec.drop_keys)}
    return sd


def _checkpoint_filters() -> dict[str, Any]:
    from timm.models import swin_transformer, vision_transformer, xcit

    return {
        "timm_vit": vision_transformer.checkpoint_filter_fn,
        "timm_dinov2_original": vision_transformer._convert_dinov2,
        "timm_swin": swin_transformer.checkpoint_filter_fn,
        "timm_xcit": xcit.checkpoint_filter_fn,
    }


def apply_checkpoint_filter(
    sd: dict[str, torch.Tensor], spec: EncoderSpec, model: nn.Module
) -> dict[str, torch.Tensor]:
    """Run the timm conversion the spec names (old key layouts, position-embedding resampling)."""
    if not spec.checkpoint_filter:
        return sd
    filters = _checkpoint_filters()
    if spec.checkpoint_filter not in filters:
        raise SpecError(
            f"{spec.name}: unknown checkpoint_filter {spec.checkpoint_filter!r}.",
            f"Use one of {', '.join(filters)}.",
        )
    return dict(filters[spec.checkpoint_filter](dict(sd), model))


def key_mismatch_error(
    spec: EncoderSpec, path: Path, missing: list[str], unexpected: list[str], mismatched: list[str]
) -> WeightsError:
    """The error for a checkpoint that does not fit: which keys, and which spec expected what."""
    parts = []
    if missing:
        parts.append(f"{len(missing)} key(s) the model expects are missing ({_examples(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} key(s) in the file are unexpected ({_examples(unexpected)})")
    if mismatched:
        parts.append(f"{len(mismatched)} shape mismatch(es) ({_examples(mismatched, 3)})")
    return WeightsError(
        f"{path} does not fit {spec.title} (spec {spec.name!r}: {spec.library} {spec.arch}): "
        + "; ".join(parts)
        + ".",
        f"Use the published weights ({', '.join(spec.weight_files) or 'see the spec'}); mitoviz never loads a "
        f"checkpoint partially. {spec.how_to_get}",
    )


def load_strict(model: nn.Module, sd: Mapping[str, torch.Tensor], spec: EncoderSpec, path: Path) -> None:
    """``load_state_dict(strict=True)``, after listing every missing, unexpected or misshapen key."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    mismatched = [
        f"{k}: file {tuple(sd[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(sd) & set(expected))
        if tuple(sd[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mismatched:
        raise key_mismatch_error(spec, path, missing, unexpected, mismatched)
    if not any(t.is_meta for t in expected.values()):
        model.load_state_dict(sd, strict=True)
        return
    # a skeleton on the meta device: take the checkpoint's tensors (in the model's dtypes) as they are
    model.load_state_dict({k: v.to(dtype=expected[k].dtype) for k, v in sd.items()}, strict=True, assign=True)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise WeightsError(
            f"{spec.name}: {_examples(left)} were not set by {path}.",
            "This architecture cannot be loaded without initialisation; report it.",
        )


# ---- digests --------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_sha256(path: Path, settings: Settings) -> str:
    """sha256 of a (possibly multi-GB) file, cached by path, size and mtime under the cache folder."""
    path = Path(path).resolve()
    stat = path.stat()
    cache_file = settings.cache_dir / DIGEST_CACHE
    cache = _read_json(cache_file)
    entry = cache.get(str(path))
    if (
        isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
    ):
        return str(entry["sha256"])
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    cache = _read_json(cache_file)  # re-read: another worker may have added entries meanwhile
    cache[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError as exc:
        raise StorageError(
            f"Cannot write {cache_file}: {exc}.", "Make the mitoviz home folder writable."
        ) from exc
    return digest


# ---- status ---------------------------------------------------------------------------------------


def _status(spec: EncoderSpec, settings: Settings) -> EncoderStatus:
    base = {
        "name": spec.name,
        "title": spec.title,
        "family": spec.family,
        "library": spec.library,
        "dim": spec.dim,
        "params_m": spec.params_m,
        "needs_weights": spec.needs_weights,
        "hf_repo": spec.hf_repo,
        "url": spec.url,
        "gated": spec.gated,
        "licence": spec.licence,
        "how_to_get": spec.how_to_get,
    }
    if not spec.needs_weights:
        return EncoderStatus(**base, available=True, location="built in", source="built in")
    try:
        where = find_weights(spec, settings)
    except MissingWeights as exc:
        reason = exc.what
        if _downloadable(spec):
            if not settings.allow_download:
                base["how_to_get"] += " Or set MITOVIZ_ALLOW_DOWNLOAD=1 to download it on first use."
            elif spec.hf_repo and hf_offline():
                reason += " Downloads are allowed but HF_HUB_OFFLINE is set."
            else:
                reason += " It will be downloaded on first use (downloads are allowed)."
        return EncoderStatus(**base, available=False, reason=reason)
    except WeightsError as exc:
        return EncoderStatus(**base, available=False, reason=exc.what)
    return EncoderStatus(**base, available=True, location=str(where.file), source=where.source)


def encoder_status(settings: Settings) -> list[EncoderStatus]:
    """Every encoder (built-in and custom) and whether its weights are here. Loads and hashes nothing."""
    from mitoviz.encoders.spec import list_encoders
    from mitoviz.encoders.zoo import custom_name, spec_from_entry

    statuses = [_status(spec, settings) for spec in list_encoders()]
    seen: set[str] = set()
    for index, entry in enumerate(settings.custom_encoders):
        name = custom_name(entry, index)
        try:
            spec = spec_from_entry(entry, settings, index)
            if spec.name in seen:
                raise SpecError(f"Two custom encoders are called {spec.name!r}.", "Give each a unique name.")
        except SpecError as exc:
            statuses.append(
                EncoderStatus(
                    name=name,
                    title=f"{name} (custom, invalid)",
                    family="custom",
                    library="timm",
                    dim=None,
                    params_m=None,
                    needs_weights=True,
                    available=False,
                    reason=str(exc),
                    how_to_get="Fix the [[encoders]] entry in config.toml.",
                )
            )
            continue
        seen.add(spec.name)
        statuses.append(_status(spec, settings))
    return statuses
