"""The one factory: ``create_encoder(name) -> Encoder``, a module from uint8 patches to embeddings."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mitoviz.config import Settings, load_settings, resolve_device
from mitoviz.encoders.layers import resolve_kwargs
from mitoviz.encoders.spec import EncoderSpec, get_spec, to_jsonable
from mitoviz.encoders.weights import (
    WeightsLocation,
    apply_checkpoint_filter,
    fetch_weights,
    file_sha256,
    key_mismatch_error,
    load_strict,
    prepare_state_dict,
    read_checkpoint,
)
from mitoviz.errors import SpecError, WeightsError

_TOKEN_POOLINGS = ("cls", "cls+patch_mean", "patch_mean")


class Preprocess(nn.Module):
    """uint8 ``[B, H, W, 3]`` → normalised float ``[B, 3, S, S]`` on the module's device.

    Shorter side resized to ``spec.resize`` (or ``spec.input_size``) with the spec's interpolation
    (antialiased when shrinking, like PIL/torchvision), centre crop to ``input_size``, then
    ``(x/255 - mean) / std``.
    """

    def __init__(self, spec: EncoderSpec) -> None:
        super().__init__()
        self.input_size = spec.input_size
        self.resize = spec.resize or spec.input_size
        self.mode = spec.interpolation
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)

    @staticmethod
    def check(batch: torch.Tensor) -> None:
        """Raise SpecError unless ``batch`` is a uint8 ``[B, H, W, 3]`` tensor."""
        if (
            not isinstance(batch, torch.Tensor)
            or batch.dtype != torch.uint8
            or batch.ndim != 4
            or batch.shape[-1] != 3
        ):
            got = (
                f"{batch.dtype} {tuple(batch.shape)}"
                if isinstance(batch, torch.Tensor)
                else type(batch).__name__
            )
            raise SpecError(
                f"An encoder takes uint8 RGB patches [B, H, W, 3]; got {got}.",
                "Pass patches as read by the patch reader.",
            )

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.check(batch)
        x = batch.to(self.mean.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
        h, w = x.shape[-2:]
        if min(h, w) != self.resize:
            scale = self.resize / min(h, w)
            size = (
                (self.resize, max(self.resize, int(w * scale)))
                if h <= w
                else (max(self.resize, int(h * scale)), self.resize)
            )
            if self.mode == "nearest":
                x = F.interpolate(x, size=size, mode="nearest")
            else:
                x = F.interpolate(x, size=size, mode=self.mode, align_corners=False, antialias=True)
        h, w = x.shape[-2:]
        if (h, w) != (self.input_size, self.input_size):
            top, left = round((h - self.input_size) / 2), round((w - self.input_size) / 2)
            x = x[..., top : top + self.input_size, left : left + self.input_size]
        return (x - self.mean) / self.std


class TimmBackbone(nn.Module):
    """timm model → tokens ``[B, N, D]`` (NHWC maps flattened), a feature map, or its pooled output."""

    def __init__(self, model: nn.Module, pooled: bool) -> None:
        super().__init__()
        from timm.models import FeatureListNet

        self.model = model
        self.pooled = pooled
        self.features_only = isinstance(model, FeatureListNet)
        self.nhwc = getattr(model, "output_fmt", "NCHW") == "NHWC"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.features_only:
            return self.model(x)[-1]
        features = self.model.forward_features(x)
        if self.pooled:
            return self.model.forward_head(features, pre_logits=True)
        return features.flatten(1, 2) if self.nhwc and features.ndim == 4 else features


class ResNetBackbone(nn.Module):
    """torchvision ResNet without ``fc`` → the layer4 map (Lunit's published forward)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))


class TransformersBackbone(nn.Module):
    """transformers vision model → ``last_hidden_state`` (after the final layer norm)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=x).last_hidden_state


class Encoder(nn.Module):
    """uint8 patches ``[B, H, W, 3]`` → float32 embeddings ``[B, dim]``; always in eval mode.

    Preprocessing, backbone and pooling run batched on the module's device.
    """

    def __init__(
        self,
        spec: EncoderSpec,
        backbone: nn.Module,
        *,
        dim: int,
        num_prefix_tokens: int,
        weights_digest: str,
        weights_path: Path | None,
        config_digest: str | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.dim = dim
        self.num_prefix_tokens = num_prefix_tokens
        self.weights_digest = weights_digest
        self.weights_path = weights_path
        self.config_digest = config_digest
        self.channels_last = spec.channels_last
        self.preprocess = Preprocess(spec)
        self.backbone = backbone
        self.eval()

    def train(self, mode: bool = True) -> Encoder:
        """Frozen feature extractor: stays in eval mode (no dropout, no batch-norm updates)."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.preprocess.mean.device

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Apply the spec's pooling rule to backbone output (tokens ``[B, N, D]`` or a map ``[B, C, H, W]``)."""
        rule, prefix = self.spec.pooling, self.num_prefix_tokens
        if rule in _TOKEN_POOLINGS:
            if tokens.ndim != 3:
                raise SpecError(
                    f"{self.spec.name}: pooling {rule!r} needs tokens [B, N, D], got {tuple(tokens.shape)}.",
                    "Fix the spec's pooling.",
                )
            if rule != "cls" and tokens.shape[1] <= prefix:
                raise SpecError(
                    f"{self.spec.name}: {tokens.shape[1]} tokens leave no patch tokens after "
                    f"{prefix} prefix tokens.",
                    "Fix the spec's prefix_tokens.",
                )
        if rule == "cls":
            return tokens[:, 0]
        if rule == "cls+patch_mean":
            return torch.cat([tokens[:, 0], tokens[:, prefix:].mean(1)], dim=-1)
        if rule == "patch_mean":
            return tokens[:, prefix:].mean(1)
        if rule == "gap":
            return tokens.mean((2, 3)) if tokens.ndim == 4 else tokens.mean(1)
        return tokens

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            self.preprocess.check(batch)
            if batch.shape[0] == 0:
                return torch.empty(0, self.dim, device=self.device)
            x = self.preprocess(batch)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.pool(self.backbone(x)).float()


# ---- builders -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _skeleton(create: Any) -> nn.Module:
    """The model on the meta device when every tensor it holds comes from the checkpoint.

    Skips random initialisation (tens of seconds and a second copy of the weights for giant models);
    the strict load then assigns the checkpoint's tensors. Models with state computed at construction
    (non-persistent buffers, e.g. Swin's attention masks) are built normally.
    """
    try:
        with torch.device("meta"):
            model = create()
    except SpecError:
        raise
    except Exception:  # an architecture that cannot be traced on meta: build it for real
        return create()
    if {name for name, _ in model.named_buffers()} - set(model.state_dict()):
        return create()
    return model


def _load_file(model: nn.Module, spec: EncoderSpec, location: WeightsLocation) -> None:
    sd = prepare_state_dict(read_checkpoint(location.file), spec, location.file)
    sd = apply_checkpoint_filter(sd, spec, model)
    load_strict(model, sd, spec, location.file)


def _build_timm(spec: EncoderSpec, location: WeightsLocation | None) -> tuple[nn.Module, int, int]:
    import timm

    kwargs = resolve_kwargs(to_jsonable(spec.kwargs))

    def create() -> nn.Module:
        try:
            return timm.create_model(spec.arch, pretrained=False, **kwargs)
        except (TypeError, ValueError, AssertionError, RuntimeError) as exc:
            raise SpecError(
                f"{spec.name}: timm cannot build {spec.arch} with {to_jsonable(spec.kwargs)}: {exc}",
                "Fix the architecture arguments.",
            ) from exc

    if location is None:
        with _seeded(spec.seed):
            model = create()
    else:
        model = _skeleton(create)
        _load_file(model, spec, location)
    backbone = TimmBackbone(model, pooled=spec.pooling == "head")
    if backbone.features_only:
        width = model.feature_info.channels()[-1]
    elif spec.pooling == "head":
        width = getattr(model, "head_hidden_size", None) or model.num_features
    else:
        width = model.num_features
    return backbone, width, int(getattr(model, "num_prefix_tokens", 0) or 0)


def _build_torchvision(spec: EncoderSpec, location: WeightsLocation | None) -> tuple[nn.Module, int, int]:
    from torchvision.models import resnet

    kwargs = to_jsonable(spec.kwargs)
    blocks = {"Bottleneck": resnet.Bottleneck, "BasicBlock": resnet.BasicBlock}
    if spec.arch != "ResNet" or kwargs.get("block") not in blocks or "layers" not in kwargs:
        raise SpecError(
            f"{spec.name}: torchvision encoders are ResNet(block, layers) only.",
            'Use arch "ResNet" with kwargs block = "Bottleneck" and layers = [3, 4, 6, 3].',
        )
    block = blocks[kwargs.pop("block")]
    with _seeded(spec.seed):
        model = resnet.ResNet(block, kwargs.pop("layers"), **kwargs)
    width = model.fc.in_features
    model.fc = nn.Identity()  # published without the classifier
    if location is not None:
        _load_file(model, spec, location)
    return ResNetBackbone(model), width, 0


_HF_CLASSES = {
    # class name: (model class, config class, accepted config.json model_type values)
    "ViTModel": ("ViTModel", "ViTConfig", ("vit",)),
    "Dinov2Model": ("Dinov2Model", "Dinov2Config", ("dinov2",)),
    # Hibou publishes model_type "dinov2" with its own remote code for the registers
    "Dinov2WithRegistersModel": (
        "Dinov2WithRegistersModel",
        "Dinov2WithRegistersConfig",
        ("dinov2_with_registers", "dinov2"),
    ),
}
_HF_CONFIG_SKIP = (
    "auto_map",
    "architectures",
    "model_type",
    "transformers_version",
    "_name_or_path",
    "torch_dtype",
    "dtype",
)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _build_transformers(spec: EncoderSpec, location: WeightsLocation | None) -> tuple[nn.Module, int, int]:
    if location is None or location.config is None:
        raise WeightsError(f"{spec.title} needs a Hugging Face folder with config.json.", spec.how_to_get)
    if spec.arch not in _HF_CLASSES:
        raise SpecError(
            f"{spec.name}: transformers class {spec.arch!r} is not supported.",
            f"Use one of {', '.join(_HF_CLASSES)}.",
        )
    import transformers

    model_name, config_name, model_types = _HF_CLASSES[spec.arch]
    try:
        raw = json.loads(location.config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(
            f"{location.config} is not readable JSON ({exc}).", "Download config.json again."
        ) from exc
    if raw.get("model_type") not in model_types:
        raise WeightsError(
            f"{location.config} describes a {raw.get('model_type')!r} model; {spec.name} expects "
            f"{' or '.join(model_types)} (built as transformers.{model_name}).",
            f"Use the config.json published with {spec.hf_repo}.",
        )
    if spec.arch == "Dinov2WithRegistersModel" and "num_register_tokens" not in raw:
        raise WeightsError(
            f"{location.config} does not declare num_register_tokens, so {spec.title} cannot be built without "
            "running the code shipped with the weights, which mitoviz never does.",
            f"Use the config.json published with {spec.hf_repo}.",
        )
    config = getattr(transformers, config_name)(**{k: v for k, v in raw.items() if k not in _HF_CONFIG_SKIP})
    sd = prepare_state_dict(read_checkpoint(location.file), spec, location.file)
    model_cls = getattr(transformers, model_name)
    try:
        with _quiet_transformers():
            model, info = model_cls.from_pretrained(
                None,
                config=config,
                state_dict=sd,
                output_loading_info=True,
                dtype=torch.float32,
                **to_jsonable(spec.kwargs),
            )
    except (RuntimeError, ValueError, KeyError) as exc:
        raise WeightsError(f"{location.file} does not fit {spec.title}: {exc}", spec.how_to_get) from exc
    mismatched = [
        f"{k[0]}: {k[1]} vs {k[2]}" if isinstance(k, tuple) else str(k) for k in info["mismatched_keys"]
    ]
    if info["missing_keys"] or info["unexpected_keys"] or mismatched or info["error_msgs"]:
        raise key_mismatch_error(
            spec,
            location.file,
            sorted(info["missing_keys"]),
            sorted(info["unexpected_keys"]),
            mismatched + [str(m) for m in info["error_msgs"]],
        )
    prefix = 1 + int(getattr(config, "num_register_tokens", 0) or 0)
    return TransformersBackbone(model), int(config.hidden_size), prefix


def _build_handcrafted(spec: EncoderSpec, location: WeightsLocation | None) -> tuple[nn.Module, int, int]:
    from mitoviz.encoders.handcrafted import HandcraftedFeatures

    kwargs = to_jsonable(spec.kwargs)
    if kwargs.get("size", spec.input_size) != spec.input_size:
        raise SpecError(f"{spec.name}: kwargs size must equal input_size.", "Fix the spec.")
    module = HandcraftedFeatures(size=spec.input_size)
    return module, module.dim, 0


_BUILDERS = {
    "timm": _build_timm,
    "torchvision": _build_torchvision,
    "transformers": _build_transformers,
    "handcrafted": _build_handcrafted,
}


def _no_weights_digest(spec: EncoderSpec) -> str:
    if spec.seed is None:
        return "none"
    import timm

    return f"random-init:seed{spec.seed}:timm-{timm.__version__}:torch-{torch.__version__.split('+')[0]}"


def create_encoder(
    name_or_spec: str | EncoderSpec,
    settings: Settings | None = None,
    device: str | torch.device = "cpu",
    weights: Path | None = None,
) -> Encoder:
    """Build an encoder by name (or spec), load its weights strictly and move it to ``device``.

    ``weights`` overrides where the weights come from (a file or a folder); otherwise they are found
    as ``weights.find_weights`` describes, and downloaded only when the settings allow it.
    """
    settings = settings if settings is not None else load_settings()
    spec = name_or_spec if isinstance(name_or_spec, EncoderSpec) else get_spec(name_or_spec, settings)
    if spec.library not in _BUILDERS:
        raise SpecError(
            f"{spec.name}: library {spec.library!r} has no builder.", f"Use one of {', '.join(_BUILDERS)}."
        )
    if not spec.needs_weights and weights is not None:
        raise SpecError(
            f"{spec.title} needs no weights, but a weights path was given.", "Leave the weights out."
        )
    location = fetch_weights(spec, settings, weights) if spec.needs_weights else None
    backbone, width, prefix = _BUILDERS[spec.library](spec, location)
    dim = 2 * width if spec.pooling == "cls+patch_mean" else width
    if spec.dim is not None and spec.dim != dim:
        raise SpecError(
            f"{spec.name}: the spec says dim {spec.dim} but the architecture gives {dim}.",
            "Fix dim or the architecture arguments.",
        )
    if spec.prefix_tokens is not None and spec.pooling in _TOKEN_POOLINGS and spec.prefix_tokens != prefix:
        raise SpecError(
            f"{spec.name}: the spec says {spec.prefix_tokens} prefix tokens but the model has {prefix}.",
            "Fix prefix_tokens or the architecture arguments.",
        )
    digest, config_digest = _weights_identity(spec, location, settings)
    path = location.file if location is not None else None
    encoder = Encoder(
        spec,
        backbone,
        dim=dim,
        num_prefix_tokens=prefix,
        weights_digest=digest,
        weights_path=path,
        config_digest=config_digest,
    )
    target = torch.device(resolve_device(device)) if isinstance(device, str) else torch.device(device)
    encoder.to(target)
    if spec.channels_last:
        encoder.backbone.to(memory_format=torch.channels_last)
    return encoder


def _weights_identity(
    spec: EncoderSpec, location: WeightsLocation | None, settings: Settings
) -> tuple[str, str | None]:
    """Digest of the weights file (or of the random initialisation) and of a transformers config.json."""
    if location is None:
        return _no_weights_digest(spec), None
    config_digest = (  # transformers models are built from config.json, so it belongs in the key
        hashlib.sha256(location.config.read_bytes()).hexdigest()
        if spec.library == "transformers" and location.config
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
    spec = name_or_spec if isinstance(name_or_spec, EncoderSpec) else get_spec(name_or_spec, settings)
    if spec.dim is None:  # a custom encoder whose width only the architecture knows
        return encoder_key(create_encoder(spec, settings, weights=weights))
    location = fetch_weights(spec, settings, weights) if spec.needs_weights else None
    return _key(spec, spec.dim, *_weights_identity(spec, location, settings))
