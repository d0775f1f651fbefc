"""One builder per library: the architecture of a spec, with its weights loaded strictly when given.

Each returns ``(backbone, width, prefix_tokens)``: the backbone (``backbones.py``), the width of its
output tokens or map, and how many prefix tokens (CLS + registers) precede the patch tokens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from mitoviz.encoders.backbones import ResNetBackbone, TimmBackbone, TransformersBackbone
from mitoviz.encoders.hubconfig import read_config_json
from mitoviz.encoders.layers import TOWERS, resolve_kwargs
from mitoviz.encoders.spec import EncoderSpec, to_jsonable
from mitoviz.encoders.weights import (
    WeightsLocation,
    apply_checkpoint_filter,
    key_mismatch_error,
    load_strict,
    prepare_state_dict,
    read_checkpoint,
)
from mitoviz.errors import SpecError, WeightsError

Built = tuple[nn.Module, int, int]


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
    sd = apply_checkpoint_filter(sd, spec, model, location.file)
    load_strict(model, sd, spec, location.file)


def _tower(spec: EncoderSpec, trunk: nn.Module) -> nn.Module:
    if spec.tower not in TOWERS:
        raise SpecError(f"{spec.name}: unknown tower {spec.tower!r}.", f"Use one of {', '.join(TOWERS)}.")
    return TOWERS[spec.tower](trunk)


def _build_timm(spec: EncoderSpec, location: WeightsLocation | None) -> Built:
    import timm

    kwargs = resolve_kwargs(to_jsonable(spec.kwargs))

    def create() -> nn.Module:
        try:
            model = timm.create_model(spec.arch, pretrained=False, **kwargs)
        except (TypeError, ValueError, AssertionError, RuntimeError) as exc:
            raise SpecError(
                f"{spec.name}: timm cannot build {spec.arch} with {to_jsonable(spec.kwargs)}: {exc}",
                "Fix the architecture arguments.",
            ) from exc
        return _tower(spec, model) if spec.tower else model

    if location is None:
        with _seeded(spec.seed):
            model = create()
    else:
        model = _skeleton(create)
        _load_file(model, spec, location)
    if spec.tower:
        return model, model.dim, 0
    backbone = TimmBackbone(model, pooled=spec.pooling == "head")
    if backbone.features_only:
        width = model.feature_info.channels()[-1]
    elif spec.pooling == "head":
        width = getattr(model, "head_hidden_size", None) or model.num_features
    else:
        width = model.num_features
    return backbone, width, int(getattr(model, "num_prefix_tokens", 0) or 0)


def _build_torchvision(spec: EncoderSpec, location: WeightsLocation | None) -> Built:
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


def _build_transformers(spec: EncoderSpec, location: WeightsLocation | None) -> Built:
    if location is None or location.config is None:
        raise WeightsError(f"{spec.title} needs a Hugging Face folder with config.json.", spec.how_to_get)
    if spec.arch not in _HF_CLASSES:
        raise SpecError(
            f"{spec.name}: transformers class {spec.arch!r} is not supported.",
            f"Use one of {', '.join(_HF_CLASSES)}.",
        )
    import transformers

    model_name, config_name, model_types = _HF_CLASSES[spec.arch]
    raw = read_config_json(location.config)
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
    try:
        config = getattr(transformers, config_name)(**{k: v for k, v in raw.items() if k not in _HF_CONFIG_SKIP})
    except Exception as exc:  # transformers validates fields with its own error types
        raise WeightsError(
            f"{location.config} is not a valid {config_name} ({str(exc).splitlines()[0][:300]}).",
            f"Use the config.json published with {spec.hf_repo}.",
        ) from None
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
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WeightsError(
            f"{location.file} does not fit {spec.title} as its config.json describes it "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]}).",
            f"Use the config.json and weights published together. {spec.how_to_get}",
        ) from None
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


def _build_handcrafted(spec: EncoderSpec, location: WeightsLocation | None) -> Built:
    from mitoviz.encoders.handcrafted import HandcraftedFeatures

    kwargs = to_jsonable(spec.kwargs)
    if kwargs.get("size", spec.input_size) != spec.input_size:
        raise SpecError(f"{spec.name}: kwargs size must equal input_size.", "Fix the spec.")
    module = HandcraftedFeatures(size=spec.input_size)
    return module, module.dim, 0


BUILDERS: dict[str, Callable[[EncoderSpec, WeightsLocation | None], Built]] = {
    "timm": _build_timm,
    "torchvision": _build_torchvision,
    "transformers": _build_transformers,
    "handcrafted": _build_handcrafted,
}
