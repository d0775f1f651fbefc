"""The user's own encoders, from config.toml: ``[[encoders]]`` name = "...", arch = "...", checkpoint = "...".

Each entry becomes a spec (a timm architecture plus a local checkpoint); the registry asks
:func:`specs_from_settings` for them on every look-up with settings (see ``registry.add_source``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mitoviz.config import Settings
from mitoviz.encoders.registry import add_source, is_registered
from mitoviz.encoders.spec import IMAGENET_MEAN, IMAGENET_STD, POOLINGS, EncoderSpec
from mitoviz.errors import SpecError

_CUSTOM_KEYS = {
    "name": str,
    "arch": str,
    "checkpoint": str,
    "title": str,
    "dim": int,
    "mean": list,
    "std": list,
    "input_size": int,
    "resize": int,
    "interpolation": str,
    "pooling": str,
    "kwargs": dict,
    "strip_prefixes": list,
    "wrapper_keys": list,
    "drop_keys": list,
    "keep_prefix": str,
}


def _check_type(where: str, key: str, value: Any, kind: type) -> Any:
    if kind is int and isinstance(value, bool):
        ok = False
    elif kind is list:
        ok = isinstance(value, list | tuple)
    elif kind is dict:
        ok = isinstance(value, Mapping)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise SpecError(f"{where}: '{key}' must be {kind.__name__}, got {value!r}.", "Fix config.toml.")
    return value


def spec_from_entry(entry: Mapping[str, Any], settings: Settings, index: int = 0) -> EncoderSpec:
    """One ``[[encoders]]`` table from config.toml as a spec: a timm architecture plus a local checkpoint.

    Missing preprocessing values come from timm's default pretrained config for the architecture.
    """
    where = f"Custom encoder #{index + 1}"
    if not isinstance(entry, Mapping):
        raise SpecError(
            f"{where} is not a table.", "Write it as [[encoders]] with name, arch and checkpoint."
        )
    if isinstance(entry.get("name"), str):
        where += f" ({entry['name']!r})"
    unknown = sorted(set(entry) - set(_CUSTOM_KEYS))
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(unknown)}.", f"Allowed keys: {', '.join(_CUSTOM_KEYS)}."
        )
    for required in ("name", "arch", "checkpoint"):
        if required not in entry:
            raise SpecError(
                f"{where}: '{required}' is missing.", "Give name, arch (a timm model) and checkpoint."
            )
    for key, value in entry.items():
        _check_type(where, key, value, _CUSTOM_KEYS[key])
    name = entry["name"].strip().lower()
    if is_registered(name):
        raise SpecError(f"{where}: the name {name!r} is taken by a built-in encoder.", "Choose another name.")

    import timm

    arch = entry["arch"].strip()
    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch.split('.')[0][:12]}*")[:5]
        hint = f" Close timm names: {', '.join(close)}." if close else ""
        raise SpecError(
            f"{where}: {arch!r} is not a timm architecture.", "Use a name from timm.list_models()." + hint
        )
    try:
        cfg = timm.models.get_pretrained_cfg(arch)
    except RuntimeError as exc:
        raise SpecError(f"{where}: {exc}", "Use a valid pretrained tag or none.") from exc
    default_size = int(cfg.input_size[-1]) if cfg is not None else 224
    pooling = entry.get("pooling", "head")
    if pooling not in POOLINGS:
        raise SpecError(f"{where}: pooling {pooling!r} is unknown.", f"Use one of {', '.join(POOLINGS)}.")
    kwargs = {"num_classes": 0, **dict(entry.get("kwargs", {}))}
    checkpoint = Path(entry["checkpoint"]).expanduser()
    if not checkpoint.is_absolute():
        checkpoint = settings.weights_root / checkpoint
    for key in ("mean", "std"):
        values = entry.get(key)
        if values is not None and (len(values) != 3 or not all(isinstance(v, int | float) for v in values)):
            raise SpecError(
                f"{where}: '{key}' needs three numbers (R, G, B).", "E.g. mean = [0.485, 0.456, 0.406]."
            )
    try:
        return EncoderSpec(
            name=name,
            title=entry.get("title") or f"{name} (custom, {arch})",
            family="custom",
            library="timm",
            arch=arch,
            kwargs=kwargs,
            dim=entry.get("dim"),
            input_size=entry.get("input_size", default_size),
            resize=entry.get("resize"),
            interpolation=entry.get("interpolation", cfg.interpolation if cfg is not None else "bilinear"),
            mean=tuple(entry.get("mean") or (cfg.mean if cfg is not None else IMAGENET_MEAN)),
            std=tuple(entry.get("std") or (cfg.std if cfg is not None else IMAGENET_STD)),
            pooling=pooling,
            weight_files=(checkpoint.name,),
            checkpoint=str(checkpoint),
            wrapper_keys=tuple(entry.get("wrapper_keys", ("state_dict", "model"))),
            strip_prefixes=tuple(entry.get("strip_prefixes", ("module.",))),
            drop_keys=tuple(entry.get("drop_keys", ())),
            keep_prefix=entry.get("keep_prefix"),
            licence="as given by the checkpoint's author",
            notes=f"From config.toml; timm architecture {arch}.",
        )
    except SpecError as exc:
        raise SpecError(f"{where}: {exc.what}", "Fix the entry in config.toml.") from exc


def specs_from_settings(settings: Settings) -> list[EncoderSpec]:
    """The user's custom encoders (``settings.custom_encoders``) as specs; a bad entry raises SpecError."""
    specs: list[EncoderSpec] = []
    for index, entry in enumerate(settings.custom_encoders):
        spec = spec_from_entry(entry, settings, index)
        if any(s.name == spec.name for s in specs):
            raise SpecError(f"Two custom encoders are called {spec.name!r}.", "Give each a unique name.")
        specs.append(spec)
    return specs


def custom_name(entry: Any, index: int) -> str:
    """A name to show for a custom entry, even a broken one."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return (
        name.strip().lower() if isinstance(name, str) and re.match(r"^\s*\S", name) else f"custom-{index + 1}"
    )


add_source(specs_from_settings)
