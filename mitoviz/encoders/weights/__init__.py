"""Encoder weights: locating files (``locate``), reading them safely (``read``), fitting their keys
strictly (``keys``), their digests (``digest``) and the status listing (``status``).

Safety: safetensors, or ``torch.load(weights_only=True)``; a checkpoint that needs code to unpickle is
refused and its payload never runs. Strictness: every key must fit; differences are listed.
"""

from __future__ import annotations

from mitoviz.encoders.weights.digest import DIGEST_CACHE, file_sha256
from mitoviz.encoders.weights.keys import (
    apply_checkpoint_filter,
    key_mismatch_error,
    load_strict,
    prepare_state_dict,
)
from mitoviz.encoders.weights.locate import (
    MissingWeights,
    WeightsLocation,
    download_file,
    fetch_weights,
    find_weights,
    hf_cache_dir,
    hf_offline,
)
from mitoviz.encoders.weights.read import read_checkpoint
from mitoviz.encoders.weights.status import EncoderStatus, encoder_status

__all__ = [
    "DIGEST_CACHE",
    "EncoderStatus",
    "MissingWeights",
    "WeightsLocation",
    "apply_checkpoint_filter",
    "download_file",
    "encoder_status",
    "fetch_weights",
    "file_sha256",
    "find_weights",
    "hf_cache_dir",
    "hf_offline",
    "key_mismatch_error",
    "load_strict",
    "prepare_state_dict",
    "read_checkpoint",
]
