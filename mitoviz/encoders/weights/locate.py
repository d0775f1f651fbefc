"""Finding encoder weights, looking at the file system only (and the network only when allowed).

Search order: an explicit path (argument, then ``settings.weight_files[name]``, then a custom
encoder's checkpoint), the weights folder (``<weights_root>/<name>/<published file>``), the Hugging Face
cache (offline), and a download only when ``settings.allow_download``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mitoviz.config import Settings
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.errors import WeightsError


class MissingWeights(WeightsError):
    """No weights anywhere mitoviz looks (as opposed to a path that is configured but wrong)."""


@dataclass(frozen=True)
class WeightsLocation:
    """Where an encoder's weights were found: the file, how it was found, config.json beside it."""

    file: Path
    source: str
    config: Path | None = None


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


def needs_config(spec: EncoderSpec) -> bool:
    """Encoders built from the config.json published beside the weights (transformers, timm hub configs)."""
    return spec.library == "transformers" or spec.hub_config


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
    if needs_config(spec) and not config.is_file():
        raise WeightsError(
            f"{file} has no config.json beside it; {spec.title} is built from the config.json published "
            "with its weights.",
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
            if needs_config(spec) and config_path is None:
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


def downloadable(spec: EncoderSpec) -> bool:
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
                if needs_config(spec):
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
        if not settings.allow_download or not downloadable(spec):
            hint = " Or set MITOVIZ_ALLOW_DOWNLOAD=1 to download it." if downloadable(spec) else ""
            raise MissingWeights(exc.what, exc.fix + hint) from None
        return _download(spec, settings)
