"""The encoder registry (timm style): specs registered by name, listed and looked up here.

The registry never imports its members. The built-in specs register themselves when
``mitoviz.encoders.zoo`` is imported (``mitoviz/encoders/__init__.py`` does it, so any import of
``mitoviz.encoders.…`` fills the registry first); the user's ``[[encoders]]`` from config.toml come
from a *source*, a function ``Settings -> specs`` that ``custom.py`` adds with :func:`add_source`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

from mitoviz.encoders.spec import FAMILIES, EncoderSpec
from mitoviz.errors import SpecError

if TYPE_CHECKING:
    from mitoviz.config import Settings

_REGISTRY: dict[str, EncoderSpec] = {}
_SOURCES: list[Callable[[Settings], list[EncoderSpec]]] = []


def register(spec: EncoderSpec, *, overwrite: bool = False) -> EncoderSpec:
    """Add a spec to the registry; a second spec with the same name is an error unless ``overwrite``."""
    if spec.name in _REGISTRY and not overwrite:
        raise SpecError(f"An encoder named {spec.name!r} is already registered.", "Choose another name.")
    _REGISTRY[spec.name] = spec
    return spec


def is_registered(name: str) -> bool:
    """True when a built-in (registered) encoder is called ``name``."""
    return name.strip().lower() in _REGISTRY


def add_source(source: Callable[[Settings], list[EncoderSpec]]) -> None:
    """Specs that depend on the settings (the user's custom encoders); asked on every look-up."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def _from_sources(settings: Settings | None) -> list[EncoderSpec]:
    if settings is None:
        return []
    return [spec for source in _SOURCES for spec in source(settings)]


def list_encoders(family: str | None = None, settings: Settings | None = None) -> list[EncoderSpec]:
    """Registered specs in registration order; with ``settings``, the user's custom encoders too."""
    specs = [*_REGISTRY.values(), *_from_sources(settings)]
    specs.sort(key=lambda s: FAMILIES.index(s.family))  # stable: registration order within a family
    return [s for s in specs if family is None or s.family == family]


def get_spec(name: str, settings: Settings | None = None) -> EncoderSpec:
    """The spec called ``name`` (case-insensitive); unknown names raise SpecError with close names."""
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    custom = _from_sources(settings)
    for spec in custom:
        if spec.name == key:
            return spec
    names = [*_REGISTRY, *(s.name for s in custom)]
    close = difflib.get_close_matches(key, names, n=5, cutoff=0.5)
    hint = f"Did you mean {', '.join(close)}?" if close else f"Known encoders: {', '.join(names)}."
    raise SpecError(f"No encoder named {name!r}.", hint + " `python -m mitoviz encoders` lists them all.")
