"""The Encoder module: uint8 patches in, embeddings out, preprocessing and pooling included.

With ``layers`` (block numbers, 1-based) it returns instead the pooled raw output of each of those
blocks, all from one forward pass: ``{block: [B, dim_block]}``. Blocks are pooled with the spec's
pooling (CLS; CLS + mean of the patch tokens, registers skipped; mean of the patch tokens; the
global average of a CNN or Swin stage's map) and, unlike the final embedding, without the final norm.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mitoviz.encoders.preprocess import Preprocess
from mitoviz.encoders.spec import TOKEN_POOLINGS, EncoderSpec
from mitoviz.errors import SpecError


class Encoder(nn.Module):
    """uint8 patches ``[B, H, W, 3]`` → float32 embeddings ``[B, dim]``; always in eval mode.

    Preprocessing, backbone and pooling run batched on the module's device. With ``layers`` set, the
    output is a dict ``{block: [B, dim_block]}`` (see the module docstring) and ``block_pooling`` says
    how each block is pooled.
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
        layers: tuple[int, ...] | None = None,
        block_pooling: str | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.dim = dim
        self.num_prefix_tokens = num_prefix_tokens
        self.weights_digest = weights_digest
        self.weights_path = weights_path
        self.config_digest = config_digest
        self.layers = layers
        self.block_pooling = block_pooling
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

    def pool(self, tokens: torch.Tensor, rule: str | None = None) -> torch.Tensor:
        """Apply a pooling rule (the spec's by default) to tokens ``[B, N, D]`` or a map ``[B, C, H, W]``."""
        rule, prefix = rule or self.spec.pooling, self.num_prefix_tokens
        if rule in TOKEN_POOLINGS:
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

    def forward(self, batch: torch.Tensor) -> torch.Tensor | dict[int, torch.Tensor]:
        with torch.inference_mode():
            self.preprocess.check(batch)
            if batch.shape[0] == 0:
                empty = torch.empty(0, self.dim, device=self.device)
                return empty if self.layers is None else {b: empty for b in self.layers}
            x = self.preprocess(batch)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            if self.layers is None:
                return self.pool(self.backbone(x)).float()
            outs = self.backbone.blocks(x, list(self.layers))
            return {b: self.pool(outs[b], self.block_pooling).float() for b in self.layers}
