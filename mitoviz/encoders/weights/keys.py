"""Fitting a checkpoint's keys to the architecture: unwrap, rename, convert, then load strictly.

The spec says how its published file is laid out (wrapper keys, prefixes, dropped keys) and which
converter to run (``checkpoint_filter``, one of :func:`checkpoint_filter_names`: timm's own for old layouts and position-embedding
resampling, and the published conversions of GPFM and CONCH v1.5). A checkpoint loads completely or
not at all: every missing, unexpected or misshapen key is listed in one :class:`WeightsError`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitoviz.encoders.spec import EncoderSpec
from mitoviz.errors import SpecError, WeightsError

if TYPE_CHECKING:
    import torch
    from torch import nn


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


def dinov2_teacher(sd: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """A DINOv2 training checkpoint's teacher as a timm ViT (GPFM; kaiko-ai/eva ``_convert_gpfm``).

    ``backbone.`` removed, block chunks collapsed (``blocks.i.j`` → ``blocks.j``), ``mask_token`` and
    the ``dino_head`` dropped. A file already in timm layout passes through unchanged.
    """
    out = {}
    for key, value in sd.items():
        key = re.sub(r"blocks\.\d+\.(\d+)", r"blocks.\1", key.replace("backbone.", ""))
        if key != "mask_token" and "dino_head" not in key:
            out[key] = value
    return out


def resample_trunk_pos_embed(sd: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """CONCH v1.5: ``trunk.pos_embed`` resampled to the trunk's grid, as TRIDENT does before its strict load."""
    from timm.layers import resample_abs_pos_embed

    trunk = model.trunk
    key = "trunk.pos_embed"
    if key in sd and sd[key].shape != trunk.pos_embed.shape:
        prefix = 0 if getattr(trunk, "no_embed_class", False) else trunk.num_prefix_tokens
        sd = {**sd, key: resample_abs_pos_embed(sd[key], list(trunk.patch_embed.grid_size), num_prefix_tokens=prefix)}
    return sd


def _checkpoint_filters() -> dict[str, Callable[..., Any]]:
    from timm.models import swin_transformer, vision_transformer, xcit

    return {
        "timm_vit": vision_transformer.checkpoint_filter_fn,
        "timm_dinov2_original": vision_transformer._convert_dinov2,
        "timm_swin": swin_transformer.checkpoint_filter_fn,
        "timm_xcit": xcit.checkpoint_filter_fn,
        "dinov2_teacher": dinov2_teacher,
        "conch_v15": resample_trunk_pos_embed,
    }


def checkpoint_filter_names() -> list[str]:
    """The converters a spec may name in ``checkpoint_filter``."""
    return list(_checkpoint_filters())


def apply_checkpoint_filter(
    sd: dict[str, torch.Tensor], spec: EncoderSpec, model: nn.Module, path: Path | None = None
) -> dict[str, torch.Tensor]:
    """Run the conversion the spec names (old key layouts, position-embedding resampling)."""
    if not spec.checkpoint_filter:
        return sd
    filters = _checkpoint_filters()
    if spec.checkpoint_filter not in filters:
        raise SpecError(
            f"{spec.name}: unknown checkpoint_filter {spec.checkpoint_filter!r}.",
            f"Use one of {', '.join(filters)}.",
        )
    try:
        return dict(filters[spec.checkpoint_filter](dict(sd), model))
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise WeightsError(
            f"{path or 'The checkpoint'} cannot be converted for {spec.title} ({spec.checkpoint_filter}: "
            f"{type(exc).__name__}: {exc}).",
            f"Use the published weights ({', '.join(spec.weight_files)}). {spec.how_to_get}",
        ) from None


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
    try:
        if not any(t.is_meta for t in expected.values()):
            model.load_state_dict(sd, strict=True)
            return
        # a skeleton on the meta device: take the checkpoint's tensors (in the model's dtypes) as they are
        model.load_state_dict(
            {k: v.to(dtype=expected[k].dtype) for k, v in sd.items()}, strict=True, assign=True
        )
    except RuntimeError as exc:  # e.g. tensors of a type the parameters cannot take
        raise WeightsError(
            f"{path} does not load into {spec.title}: {str(exc).splitlines()[0][:300]}", spec.how_to_get
        ) from None
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise WeightsError(
            f"{spec.name}: {_examples(left)} were not set by {path}.",
            "This architecture cannot be loaded without initialisation; report it.",
        )
