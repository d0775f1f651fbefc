"""timm's hub config.json: the architecture and preprocessing published beside a model's weights.

For encoders whose published arguments the reference could not pin down (``hub_config = True``), mitoviz
reads them from the ``config.json`` next to the weights, as ``timm.create_model("hf-hub:…")`` does:
``architecture``, ``model_args`` (the constructor's arguments; the spec's own ``kwargs``, which the model
card passes explicitly, win) and ``pretrained_cfg`` (input size, crop, interpolation, mean, std). The
file is JSON only; no code is read. The spec's values are the reference used when building for tests.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mitoviz.encoders.spec import INTERPOLATIONS, EncoderSpec
from mitoviz.errors import SpecError, WeightsError


def read_config_json(path: Path) -> dict[str, Any]:
    """A parsed config.json (timm or transformers); a file that is not a JSON object raises WeightsError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path} is not readable JSON ({exc}).", "Download config.json again.") from exc
    if not isinstance(data, dict):
        raise WeightsError(f"{path} holds a {type(data).__name__}, not a JSON object.", "Download it again.")
    return data


def apply_hub_config(spec: EncoderSpec, config: Mapping[str, Any], source: str = "config.json") -> EncoderSpec:
    """``spec`` with the architecture, constructor arguments and preprocessing of a timm hub config."""
    args = config.get("model_args") or {}
    pretrained = config.get("pretrained_cfg") or {}
    arch = config.get("architecture", spec.arch)
    if not isinstance(args, Mapping) or not isinstance(pretrained, Mapping) or not isinstance(arch, str):
        raise WeightsError(
            f"{source} is not a timm model config (architecture, model_args, pretrained_cfg).",
            f"Use the config.json published with {spec.hf_repo or spec.name}.",
        )
    changes: dict[str, Any] = {"arch": arch, "kwargs": {**args, **spec.kwargs}}
    if "mean" in pretrained:
        changes["mean"] = tuple(pretrained["mean"])
    if "std" in pretrained:
        changes["std"] = tuple(pretrained["std"])
    if pretrained.get("interpolation") in INTERPOLATIONS:
        changes["interpolation"] = pretrained["interpolation"]
    size = pretrained.get("input_size")
    if isinstance(size, list | tuple) and size:
        changes["input_size"] = int(size[-1])
    crop = pretrained.get("crop_pct")
    if isinstance(crop, int | float) and 0 < crop <= 1:  # timm's eval transform: resize, then centre crop
        size = changes.get("input_size", spec.input_size)
        changes["resize"] = math.floor(size / crop) if crop < 1 else None
    try:
        return dataclasses.replace(spec, **changes)
    except (SpecError, TypeError, ValueError) as exc:
        raise WeightsError(
            f"{source} does not describe a usable {spec.title}: {exc}",
            f"Use the config.json published with {spec.hf_repo or spec.name}.",
        ) from None
