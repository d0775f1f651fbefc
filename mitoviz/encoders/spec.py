"""The encoder spec: one frozen dataclass per encoder (timm style; the registry is ``registry.py``).

A spec is pure data: how to build the architecture, which published files hold its weights
and how their keys are laid out, how a patch is preprocessed and how tokens are pooled.
Nothing here imports torch, so listing encoders stays cheap.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mitoviz.errors import SpecError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)

FAMILIES = (
    "pathology foundation model",
    "pathology SSL",
    "general",
    "random baseline",
    "handcrafted",
    "custom",
)
LIBRARIES = ("timm", "transformers", "torchvision", "handcrafted")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")

#: Pooling rules. Token models give ``[B, N, D]`` (prefix tokens first), CNNs ``[B, C, H, W]``.
POOLINGS: dict[str, str] = {
    "cls": "CLS token (tokens[:, 0])",
    "cls+patch_mean": "CLS concatenated with the mean of the patch tokens, skipping all prefix/register tokens",
    "patch_mean": "mean of the patch tokens, skipping all prefix/register tokens",
    "gap": "global average pool of the last feature map",
    "head": "the model's own pooled output (timm forward_head, pre-logits)",
    "none": "the encoder already returns one vector per patch",
}
TOKEN_POOLINGS = ("cls", "cls+patch_mean", "patch_mean")  # a transformer's tokens: LoRA and blocks apply

#: Bumped whenever preprocessing or pooling code changes in a way that changes embeddings.
FINGERPRINT_VERSION = 1

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def to_jsonable(value: Any) -> Any:
    """A JSON-able copy: mappings become sorted dicts, sequences lists."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise SpecError(
        f"{value!r} ({type(value).__name__}) cannot go into an encoder spec.",
        "Use numbers, strings, booleans, lists or tables; name layers by string.",
    )


@dataclass(frozen=True)
class EncoderSpec:
    """Everything needed to build one encoder, find its weights and embed a patch with it."""

    name: str
    title: str
    family: str
    library: str
    arch: str
    dim: int | None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    params_m: float | None = None
    # preprocessing: shorter side resized to ``resize`` (or straight to ``input_size``), centre crop
    input_size: int = 224
    resize: int | None = None
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    pooling: str = "cls"
    prefix_tokens: int | None = None  # CLS + register tokens before the patch tokens; None: the model's
    # weights: where they come from and how the published file's keys map onto the model
    needs_weights: bool = True
    hf_repo: str | None = None
    weight_files: tuple[str, ...] = ()  # published file names, preferred first
    url: str | None = None  # page for people
    download_url: str | None = None  # direct file URL (used only when downloads are allowed)
    wrapper_keys: tuple[str, ...] = ("state_dict", "model")  # checkpoint dict keys holding the state dict
    keep_prefix: str | None = None  # keep only keys containing it, cut up to and including it
    strip_prefixes: tuple[str, ...] = ("module.",)  # removed when every key starts with one
    drop_keys: tuple[str, ...] = ()  # fnmatch patterns of published keys the model does not use
    checkpoint_filter: str | None = None  # a key conversion by name: weights.keys.checkpoint_filter_names()
    # timm: a module around the timm trunk, by name (layers.TOWERS), e.g. CONCH v1.5's attention pool
    tower: str | None = None
    # timm: architecture arguments and preprocessing from the timm config.json published beside the
    # weights (as timm's hf-hub loader does); the spec's own values are the reference and the fallback
    hub_config: bool = False
    checkpoint: str | None = None  # custom encoders: the user's file
    hf_config: Mapping[str, Any] | None = None  # reference architecture (tests); real runs read config.json
    seed: int | None = None  # random-initialisation baselines
    # facts for people
    licence: str = "unknown"
    gated: bool = False
    channels_last: bool = False  # CNNs run faster in NHWC on GPU
    notes: str = ""

    def __hash__(self) -> int:
        return hash((self.name, self.arch, self.library))

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", _freeze(dict(self.kwargs)))
        if self.hf_config is not None:
            object.__setattr__(self, "hf_config", _freeze(dict(self.hf_config)))
        for name in ("weight_files", "wrapper_keys", "strip_prefixes", "drop_keys"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        self.validate()

    def validate(self) -> None:
        """Raise SpecError when the spec is inconsistent."""
        where = f"Encoder spec {self.name!r}"
        if not _NAME_RE.match(self.name):
            raise SpecError(
                f"{where}: the name must be lower case letters, digits, '-', '_' or '.'.",
                "Rename it, e.g. 'my-vit-small'.",
            )
        checks = [
            (self.family in FAMILIES, f"family must be one of {', '.join(FAMILIES)}"),
            (self.library in LIBRARIES, f"library must be one of {', '.join(LIBRARIES)}"),
            (
                self.interpolation in INTERPOLATIONS,
                f"interpolation must be one of {', '.join(INTERPOLATIONS)}",
            ),
            (self.pooling in POOLINGS, f"pooling must be one of {', '.join(POOLINGS)}"),
            (self.dim is None or self.dim > 0, "dim must be positive"),
            (8 <= self.input_size <= 4096, "input_size must lie between 8 and 4096"),
            (self.resize is None or self.resize >= self.input_size, "resize must be at least input_size"),
            (len(self.mean) == 3 and len(self.std) == 3, "mean and std need three values (R, G, B)"),
            (all(s > 0 for s in self.std), "std values must be positive"),
            (self.prefix_tokens is None or self.prefix_tokens >= 0, "prefix_tokens cannot be negative"),
            (
                not (self.pooling in ("cls", "cls+patch_mean") and self.prefix_tokens == 0),
                "CLS pooling needs a CLS token (prefix_tokens >= 1)",
            ),
            (
                not self.needs_weights or bool(self.weight_files) or bool(self.checkpoint),
                "an encoder that needs weights must name its weight files",
            ),
            (
                not (self.tower or self.hub_config) or self.library == "timm",
                "tower and hub_config apply to timm encoders only",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise SpecError(f"{where}: {message}.", "Fix the spec.")
        to_jsonable(self.kwargs)  # raises on values that are not JSON-able

    @property
    def how_to_get(self) -> str:
        """Where the weights come from, for people: source, access and licence."""
        if not self.needs_weights:
            return "Built in: no weights to download."
        parts = []
        if self.checkpoint:
            parts.append(f"Custom encoder: put the checkpoint at {self.checkpoint}.")
        if self.hf_repo:
            access = " (gated: request access on the model page, then set HF_TOKEN)" if self.gated else ""
            parts.append(f"Hugging Face: https://huggingface.co/{self.hf_repo}{access}.")
        if self.url:
            parts.append(f"Source: {self.url}.")
        if self.weight_files:
            parts.append(f"Files: {', '.join(self.weight_files)}.")
        parts.append(f"Licence: {self.licence}.")
        return " ".join(parts)

    def with_kwargs(self, **overrides: Any) -> EncoderSpec:
        """A copy with constructor arguments replaced (e.g. ``depth=1`` for a quick test build)."""
        return dataclasses.replace(self, kwargs={**self.kwargs, **overrides})

    def fingerprint(self) -> dict[str, Any]:
        """JSON-able description of everything in the spec that changes the embedding."""
        return {
            "fingerprint_version": FINGERPRINT_VERSION,
            "name": self.name,
            "library": self.library,
            "arch": self.arch,
            "kwargs": to_jsonable(self.kwargs),
            "dim": self.dim,
            "input_size": self.input_size,
            "resize": self.resize,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
            "pooling": self.pooling,
            "prefix_tokens": self.prefix_tokens,
            "keys": {
                "wrapper_keys": list(self.wrapper_keys),
                "keep_prefix": self.keep_prefix,
                "strip_prefixes": list(self.strip_prefixes),
                "drop_keys": list(self.drop_keys),
                "checkpoint_filter": self.checkpoint_filter,
            },
            "seed": self.seed,
            # added only when set, so the keys of encoders that do not use them stay as they were
            **({"tower": self.tower} if self.tower else {}),
            **({"hub_config": True} if self.hub_config else {}),
        }

