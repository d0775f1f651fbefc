"""Image encoders: a registry of specs, safe weight loading and one factory.

    from mitoviz.encoders import create_encoder, list_encoders, encoder_status
    enc = create_encoder("uni", settings, device="cuda")
    emb = enc(patches_uint8)          # [B, H, W, 3] uint8 -> [B, enc.dim] float32

Listing specs and their status does not import torch; ``create_encoder`` does, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mitoviz.encoders import baselines, zoo  # noqa: F401  (register the built-in specs)
from mitoviz.encoders.spec import POOLINGS, EncoderSpec, get_spec, list_encoders, register
from mitoviz.encoders.weights import (
    EncoderStatus,
    MissingWeights,
    WeightsLocation,
    encoder_status,
    fetch_weights,
    file_sha256,
    find_weights,
    read_checkpoint,
)
from mitoviz.encoders.zoo import specs_from_settings

if TYPE_CHECKING:
    from mitoviz.encoders.build import Encoder, cache_identity, create_encoder, encoder_key

_LAZY = {"Encoder", "cache_identity", "create_encoder", "encoder_key"}

__all__ = [
    "POOLINGS",
    "Encoder",
    "EncoderSpec",
    "EncoderStatus",
    "MissingWeights",
    "WeightsLocation",
    "cache_identity",
    "create_encoder",
    "encoder_key",
    "encoder_status",
    "fetch_weights",
    "file_sha256",
    "find_weights",
    "get_spec",
    "list_encoders",
    "read_checkpoint",
    "register",
    "specs_from_settings",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from mitoviz.encoders import build

        return getattr(build, name)
    raise AttributeError(f"module 'mitoviz.encoders' has no attribute {name!r}")
