"""The one factory: ``create_encoder(name) -> Encoder``, a module from uint8 patches to embeddings.

Also the cache identity of an encoder's embeddings (without building it when the cache is warm) and
the depth of an encoder (how many blocks it can give, for ``layers = "all"``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mitoviz.config import Settings, load_settings, resolve_device
from mitoviz.encoders import depth
from mitoviz.encoders.builders import BUILDERS
from mitoviz.encoders.encoder import Encoder
from mitoviz.encoders.hubconfig import apply_hub_config, read_config_json
from mitoviz.encoders.registry import get_spec
from mitoviz.encoders.spec import TOKEN_POOLINGS, EncoderSpec
from mitoviz.encoders.weights import WeightsLocation, fetch_weights, file_sha256
from mitoviz.errors import SpecError


def _spec(name_or_spec: str | EncoderSpec, settings: Settings) -> EncoderSpec:
    return name_or_spec if isinstance(name_or_spec, EncoderSpec) else get_spec(name_or_spec, settings)


def _located(
    spec: EncoderSpec, settings: Settings, weights: Path | None
) -> tuple[EncoderSpec, WeightsLocation | None]:
    """Where the weights are, and the spec completed from the timm config.json beside them if it asks."""
    if not spec.needs_weights:
        if weights is not None:
            raise SpecError(
                f"{spec.title} needs no weights, but a weights path was given.", "Leave the weights out."
            )
        return spec, None
    location = fetch_weights(spec, settings, weights)
    if spec.hub_config and location.config is not None:
        spec = apply_hub_config(spec, read_config_json(location.config), str(location.config))
    return spec, location


def _refuse_blocks(spec: EncoderSpec, reason: str) -> SpecError:
    return SpecError(
        f"{spec.name} cannot give features from single blocks: {reason}.",
        f"Use its final embedding ({spec.name} without layers), or an encoder with blocks "
        "(a ViT, a CNN or a Swin).",
    )


def _block_pooling(spec: EncoderSpec, backbone: torch.nn.Module) -> str:
    """How single blocks are pooled: the spec's token pooling, or the average of a stage's map.

    Raises SpecError when the backbone has no blocks, or blocks its pooling cannot apply to.
    """
    if reason := getattr(backbone, "no_blocks", "it has no blocks"):
        raise _refuse_blocks(spec, reason)
    if backbone.block_unit == "stage":
        if spec.pooling in ("cls", "cls+patch_mean"):  # XCiT: class attention comes after the last block
            raise _refuse_blocks(
                spec, f"it is pooled by a CLS token that its {backbone.n_blocks} blocks do not carry"
            )
        return "gap"
    if spec.pooling == "head":
        rule = backbone.head_rule()
        if rule is None:
            raise _refuse_blocks(spec, "its timm head pools in a way that single blocks cannot reproduce")
        return rule
    return spec.pooling


def create_encoder(
    name_or_spec: str | EncoderSpec,
    settings: Settings | None = None,
    device: str | torch.device = "cpu",
    weights: Path | None = None,
    layers: depth.Layers | None = None,
) -> Encoder:
    """Build an encoder by name (or spec), load its weights strictly and move it to ``device``.

    ``weights`` overrides where the weights come from (a file or a folder); otherwise they are found
    as ``weights.find_weights`` describes, and downloaded only when the settings allow it.
    ``layers`` (block numbers from 1, or ``"all"``) makes the encoder return ``{block: [B, dim]}``, the
    pooled raw output of those blocks from one forward pass; encoders without blocks refuse.
    """
    settings = settings if settings is not None else load_settings()
    spec = _spec(name_or_spec, settings)
    if spec.library not in BUILDERS:
        raise SpecError(
            f"{spec.name}: library {spec.library!r} has no builder.", f"Use one of {', '.join(BUILDERS)}."
        )
    if layers is not None and (reason := depth.refusal(spec)):
        raise _refuse_blocks(spec, reason)
    spec, location = _located(spec, settings, weights)
    backbone, width, prefix = BUILDERS[spec.library](spec, location)
    dim = 2 * width if spec.pooling == "cls+patch_mean" else width
    if spec.dim is not None and spec.dim != dim:
        raise SpecError(
            f"{spec.name}: the spec says dim {spec.dim} but the architecture gives {dim}.",
            "Fix dim or the architecture arguments.",
        )
    if spec.prefix_tokens is not None and spec.pooling in TOKEN_POOLINGS and spec.prefix_tokens != prefix:
        raise SpecError(
            f"{spec.name}: the spec says {spec.prefix_tokens} prefix tokens but the model has {prefix}.",
            "Fix prefix_tokens or the architecture arguments.",
        )
    blocks, rule = None, None
    if layers is not None:
        rule = _block_pooling(spec, backbone)
        blocks = depth.resolve_layers(layers, backbone.n_blocks, spec, backbone.block_unit)
    digest, config_digest = _weights_identity(spec, location, settings)
    encoder = Encoder(
        spec,
        backbone,
        dim=dim,
        num_prefix_tokens=prefix,
        weights_digest=digest,
        weights_path=location.file if location is not None else None,
        config_digest=config_digest,
        layers=blocks,
        block_pooling=rule,
    )
    target = torch.device(resolve_device(device)) if isinstance(device, str) else torch.device(device)
    encoder.to(target)
    if spec.channels_last:
        encoder.backbone.to(memory_format=torch.channels_last)
    return encoder


def encoder_depth(
    name_or_spec: str | EncoderSpec, settings: Settings | None = None, weights: Path | None = None
) -> tuple[int, str]:
    """How many blocks an encoder can give, and what they are (``"block"`` or ``"stage"``).

    Builds the architecture on the meta device (no memory, no weights read); a transformers model's
    depth comes from its config.json. Encoders without blocks raise SpecError saying why.
    """
    settings = settings if settings is not None else load_settings()
    spec = _spec(name_or_spec, settings)
    if reason := depth.refusal(spec):
        raise _refuse_blocks(spec, reason)
    if spec.library == "transformers":
        location = fetch_weights(spec, settings, weights)
        config = read_config_json(location.config) if location.config else {}
        n = config.get("num_hidden_layers")
        if not isinstance(n, int) or n < 1:
            raise SpecError(f"{location.config} gives no num_hidden_layers.", "Download config.json again.")
        return n, "block"
    spec, _ = _located(spec, settings, weights) if spec.hub_config else (spec, None)
    with torch.device("meta"):
        backbone, _, _ = BUILDERS[spec.library](spec, None)
    _block_pooling(spec, backbone)
    return backbone.n_blocks, backbone.block_unit


def resolve_encoder_layers(
    name_or_spec: str | EncoderSpec, layers: depth.Layers, settings: Settings | None = None
) -> tuple[int, ...]:
    """``layers`` (numbers or ``"all"``) as the ascending block numbers of this encoder, checked."""
    settings = settings if settings is not None else load_settings()
    spec = _spec(name_or_spec, settings)
    n, unit = encoder_depth(spec, settings)
    return depth.resolve_layers(layers, n, spec, unit)


# ---- identity -------------------------------------------------------------------------------------


def _no_weights_digest(spec: EncoderSpec) -> str:
    if spec.seed is None:
        return "none"
    import timm

    return f"random-init:seed{spec.seed}:timm-{timm.__version__}:torch-{torch.__version__.split('+')[0]}"


def _weights_identity(
    spec: EncoderSpec, location: WeightsLocation | None, settings: Settings
) -> tuple[str, str | None]:
    """Digest of the weights file (or of the random initialisation) and of a config.json it is built from."""
    if location is None:
        return _no_weights_digest(spec), None
    config_digest = (  # models built from config.json: the file belongs in the key
        hashlib.sha256(location.config.read_bytes()).hexdigest()
        if (spec.library == "transformers" or spec.hub_config) and location.config
        else None
    )
    return file_sha256(location.file, settings), config_digest


def _key(spec: EncoderSpec, dim: int, digest: str, config_digest: str | None) -> dict[str, Any]:
    key = spec.fingerprint()
    key["dim"] = dim
    key["weights"] = digest
    if config_digest is not None:
        key["config"] = config_digest
    return key


def encoder_key(encoder: Encoder) -> dict[str, Any]:
    """JSON-able cache key: the spec's fingerprint plus the digests of the weights (and config.json)."""
    return _key(encoder.spec, encoder.dim, encoder.weights_digest, encoder.config_digest)


def cache_identity(
    name_or_spec: str | EncoderSpec, settings: Settings | None = None, weights: Path | None = None
) -> dict[str, Any]:
    """:func:`encoder_key` without building the model (a warm cache never loads a large model)."""
    settings = settings if settings is not None else load_settings()
    spec = _spec(name_or_spec, settings)
    if spec.dim is None:  # a custom encoder whose width only the architecture knows
        return encoder_key(create_encoder(spec, settings, weights=weights))
    spec, location = _located(spec, settings, weights)
    return _key(spec, spec.dim, *_weights_identity(spec, location, settings))


def block_identities(
    name_or_spec: str | EncoderSpec, blocks: Sequence[int], settings: Settings | None = None
) -> dict[int, dict[str, Any]]:
    """The cache identity of each block's embedding (see :func:`depth.block_identity`)."""
    identity = cache_identity(name_or_spec, settings)
    return {b: depth.block_identity(identity, b) for b in blocks}
