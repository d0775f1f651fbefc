"""What the zoo modules share: family names, the published normalisation statistics, and two small
constructors for the common cases (a timm model, a transformers model built from its config.json).

Facts from shared/reference/encoders.md §1–2 and encoders_new.md ("Constants").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mitoviz.encoders.registry import register
from mitoviz.encoders.spec import HALF, IMAGENET_MEAN, IMAGENET_STD, EncoderSpec

FM = "pathology foundation model"
SSL = "pathology SSL"
GENERAL = "general"

IMAGENET = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
HALF_NORM = {"mean": HALF, "std": HALF}  # (x - 0.5) / 0.5: Kaiko ViTs, Midnight, XCiT-DINO
HOPT = {"mean": (0.707223, 0.578729, 0.703617), "std": (0.211883, 0.230117, 0.177517)}
HIBOU = {"mean": (0.7068, 0.5755, 0.722), "std": (0.195, 0.2316, 0.1816)}
LUNIT = {"mean": (0.70322989, 0.53606487, 0.66096631), "std": (0.21716536, 0.26081574, 0.20723464)}

MAHMOOD_LICENCE = "CC-BY-NC-ND 4.0"
KAIKO_LICENCE = "Kaiko Non-Commercial Public License (repo LICENSE; HF copies say apache-2.0)"


def timm_spec(
    name: str,
    title: str,
    arch: str,
    kwargs: Mapping[str, Any],
    dim: int,
    params_m: float | None,
    prefix_tokens: int | None,
    *,
    family: str = FM,
    pooling: str = "cls",
    **fields: Any,
) -> EncoderSpec:
    """Register a timm encoder (CLS pooling unless said otherwise); ``fields`` are the spec's other facts."""
    return register(
        EncoderSpec(
            name=name, title=title, family=family, library="timm", arch=arch, kwargs=kwargs, dim=dim,
            params_m=params_m, pooling=pooling, prefix_tokens=prefix_tokens, **fields,
        )
    )


def transformers_spec(
    name: str,
    title: str,
    arch: str,
    hf_config: Mapping[str, Any],
    dim: int,
    params_m: float | None,
    prefix_tokens: int,
    *,
    pooling: str = "cls",
    **fields: Any,
) -> EncoderSpec:
    """Register a transformers pathology model; ``hf_config`` is the reference architecture (real runs
    build from the config.json published beside the weights)."""
    return register(
        EncoderSpec(
            name=name, title=title, family=FM, library="transformers", arch=arch, hf_config=hf_config, dim=dim,
            params_m=params_m, pooling=pooling, prefix_tokens=prefix_tokens, **fields,
        )
    )
