"""Image encoders: a registry of specs, safe weight loading and one factory.

    from mitoviz.encoders import create_encoder, list_encoders, encoder_status
    enc = create_encoder("uni", settings, device="cuda")
    emb = enc(patches_uint8)          # [B, H, W, 3] uint8 -> [B, enc.dim] float32
    enc = create_encoder("uni", settings, layers=[6, 12])
    per_block = enc(patches_uint8)    # {6: [B, 1024], 12: [B, 1024]}: blocks 6 and 12, pooled

Layout: ``spec.py`` (the EncoderSpec dataclass), ``registry.py`` (register / get_spec / list_encoders;
never imports its members), ``zoo/`` (the built-in specs, one module per vendor), ``custom.py`` (the
user's ``[[encoders]]``), ``weights/`` (locate, read, keys, digest, status), ``build.py`` (the factory),
``builders.py`` / ``backbones.py`` / ``encoder.py`` / ``preprocess.py`` (what it builds), ``depth.py``
(block numbers and ``<encoder>@<block>`` names).

Listing specs and their status does not import torch; ``create_encoder`` does, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mitoviz.encoders import custom, zoo  # noqa: F401  (register the built-in specs and the custom source)
from mitoviz.encoders.custom import specs_from_settings
from mitoviz.encoders.depth import method_name, split_method
from mitoviz.encoders.registry import get_spec, list_encoders, register
from mitoviz.encoders.spec import POOLINGS, TOKEN_POOLINGS, EncoderSpec
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

if TYPE_CHECKING:
    from mitoviz.encoders.build import (
        block_identities,
        cache_identity,
        create_encoder,
        encoder_depth,
        encoder_key,
        resolve_encoder_layers,
    )
    from mitoviz.encoders.encoder import Encoder

_LAZY = {
    "cache_identity": "build",
    "create_encoder": "build",
    "encoder_key": "build",
    "encoder_depth": "build",
    "resolve_encoder_layers": "build",
    "block_identities": "build",
    "Encoder": "encoder",
}

__all__ = [
    "POOLINGS",
    "TOKEN_POOLINGS",
    "Encoder",
    "EncoderSpec",
    "EncoderStatus",
    "MissingWeights",
    "WeightsLocation",
    "block_identities",
    "cache_identity",
    "create_encoder",
    "encoder_depth",
    "encoder_key",
    "encoder_status",
    "fetch_weights",
    "file_sha256",
    "find_weights",
    "get_spec",
    "list_encoders",
    "method_name",
    "read_checkpoint",
    "register",
    "resolve_encoder_layers",
    "specs_from_settings",
    "split_method",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"mitoviz.encoders.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'mitoviz.encoders' has no attribute {name!r}")
