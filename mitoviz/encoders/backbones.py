"""Backbones: a built model seen the same way whatever library made it.

``forward(x)`` gives what the spec's pooling acts on (tokens ``[B, N, D]`` with the prefix tokens first,
a feature map ``[B, C, H, W]``, or already one vector per patch). ``blocks(x, numbers)`` gives the raw
output of the numbered blocks (1-based) in one forward pass — transformer blocks for ViTs, stages for
CNNs and Swin — before any final norm; ``n_blocks`` says how many there are and ``block_unit`` what
they are. A backbone that has no blocks to give says why in ``no_blocks``; modules that map an image straight to
one vector (handcrafted features, CONCH v1.5's pooled tower) are used as they are and give none.
"""

from __future__ import annotations

import re

import torch
from torch import nn

_STAGE = re.compile(r"layer\d+")


def _run_stages(model: nn.Module, x: torch.Tensor, numbers: list[int]) -> dict[int, torch.Tensor]:
    """ResNet-like nets (children ``conv1 … layer1 … layerN``): run the children in order, keep the stages."""
    out: dict[int, torch.Tensor] = {}
    stage = 0
    for name, child in model.named_children():
        x = child(x)
        if _STAGE.fullmatch(name):
            stage += 1
            if stage in numbers:
                out[stage] = x
            if stage >= max(numbers):
                break
    return out


def _count_stages(model: nn.Module) -> int:
    return sum(1 for name, _ in model.named_children() if _STAGE.fullmatch(name))


class TimmBackbone(nn.Module):
    """timm model → tokens ``[B, N, D]`` (NHWC maps flattened), a feature map, or its pooled output."""

    def __init__(self, model: nn.Module, pooled: bool) -> None:
        super().__init__()
        from timm.models import FeatureListNet
        from timm.models.vision_transformer import VisionTransformer

        self.model = model
        self.pooled = pooled
        self.features_only = isinstance(model, FeatureListNet)
        self.nhwc = getattr(model, "output_fmt", "NCHW") == "NHWC"
        self.tokens = isinstance(model, VisionTransformer)
        self.stage_indices = self._stage_indices()

    def _stage_indices(self) -> list[int]:
        """forward_intermediates indices of the stages of a hierarchical timm model (the stem skipped)."""
        info = getattr(self.model, "feature_info", None)
        if self.tokens or self.features_only or info is None or not hasattr(self.model, "forward_intermediates"):
            return []
        modules = [f.get("module", "") for f in info] if isinstance(info, list) else info.module_name()
        return [i for i, m in enumerate(modules) if not (m in ("act1", "bn1", "conv1") or m.startswith("stem"))]

    @property
    def block_unit(self) -> str:
        return "block" if self.tokens else "stage"

    @property
    def n_blocks(self) -> int:
        if self.tokens:
            return len(self.model.blocks)
        if self.features_only:
            return _count_stages(self.model)
        return len(self.stage_indices)

    @property
    def no_blocks(self) -> str | None:
        if self.n_blocks:
            return None
        return f"timm's {type(self.model).__name__} gives no outputs of single blocks"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.features_only:
            return self.model(x)[-1]
        features = self.model.forward_features(x)
        if self.pooled:
            return self.model.forward_head(features, pre_logits=True)
        return features.flatten(1, 2) if self.nhwc and features.ndim == 4 else features

    def blocks(self, x: torch.Tensor, numbers: list[int]) -> dict[int, torch.Tensor]:
        """Raw outputs of blocks ``numbers`` (1-based, ascending): ViT tokens with their prefix, or stage maps."""
        if self.features_only:
            return _run_stages(self.model, x, numbers)
        if self.tokens:
            outs = self.model.forward_intermediates(
                x,
                indices=[n - 1 for n in numbers],
                return_prefix_tokens=True,
                norm=False,
                stop_early=True,
                output_fmt="NLC",
                intermediates_only=True,
            )
            outs = [torch.cat([o[1], o[0]], dim=1) if isinstance(o, tuple) else o for o in outs]
        else:
            outs = self.model.forward_intermediates(
                x,
                indices=[self.stage_indices[n - 1] for n in numbers],
                norm=False,
                stop_early=True,
                output_fmt="NCHW",
                intermediates_only=True,
            )
        return dict(zip(numbers, outs, strict=True))

    def head_rule(self) -> str | None:
        """The token pooling that timm's own head does (``pooling = "head"``), for single blocks."""
        if not self.tokens:
            return "gap"
        return {"token": "cls", "avg": "patch_mean"}.get(getattr(self.model, "global_pool", ""))


class _Wrapped(nn.Module):
    """A backbone around a model that always has blocks (``blocks`` given by the subclass)."""

    block_unit = "block"
    no_blocks = None

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model


class ResNetBackbone(_Wrapped):
    """torchvision ResNet without ``fc`` → the layer4 map (Lunit's published forward)."""

    block_unit = "stage"

    @property
    def n_blocks(self) -> int:
        return _count_stages(self.model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))

    def blocks(self, x: torch.Tensor, numbers: list[int]) -> dict[int, torch.Tensor]:
        return _run_stages(self.model, x, numbers)


class TransformersBackbone(_Wrapped):
    """transformers vision model → ``last_hidden_state`` (after the final layer norm)."""

    @property
    def n_blocks(self) -> int:
        return int(self.model.config.num_hidden_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=x).last_hidden_state

    def blocks(self, x: torch.Tensor, numbers: list[int]) -> dict[int, torch.Tensor]:
        """``hidden_states[k]`` is the output of block k (index 0 holds the embeddings), before the norm."""
        hidden = self.model(pixel_values=x, output_hidden_states=True).hidden_states
        return {n: hidden[n] for n in numbers}
