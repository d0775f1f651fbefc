"""What ``python -m mitoviz encoders`` and the home page show: each encoder and whether it can run here.

Looks at the file system only: nothing is loaded, hashed or downloaded, and torch is not imported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mitoviz.config import Settings
from mitoviz.encoders.custom import custom_name, spec_from_entry
from mitoviz.encoders.registry import list_encoders
from mitoviz.encoders.spec import EncoderSpec
from mitoviz.encoders.weights.locate import MissingWeights, downloadable, find_weights, hf_offline
from mitoviz.errors import SpecError, WeightsError


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
        if downloadable(spec):
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
