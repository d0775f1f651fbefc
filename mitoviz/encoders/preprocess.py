"""Preprocessing inside the encoder: uint8 patches to the normalised input the model was trained on."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mitoviz.encoders.spec import EncoderSpec
from mitoviz.errors import SpecError


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
