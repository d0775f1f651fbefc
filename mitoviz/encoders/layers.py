"""Small modules and the allowlists of classes and towers a spec may name by string (specs stay JSON-able)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mitoviz.errors import SpecError


class ConvStem(nn.Module):
    """CTransPath's convolutional patch embedding, as a timm 1.x ``embed_layer`` for Swin.

    Same layers and parameter names as the original (``proj.0`` … ``proj.6``, ``norm``), so the
    published checkpoint loads unchanged; output is NHWC because timm's Swin expects that.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 4,
        in_chans: int = 3,
        embed_dim: int = 96,
        norm_layer: Any = None,
        strict_img_size: bool = True,
        output_fmt: str = "NHWC",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        patch_size = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(patch_size)
        if patch_size != (4, 4) or embed_dim % 8:
            raise SpecError("ConvStem needs patch_size 4 and an embed_dim divisible by 8.", "Fix the spec.")
        if output_fmt not in ("NHWC", "NCHW"):
            raise SpecError(f"ConvStem cannot output {output_fmt!r}.", "Use NHWC or NCHW.")
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid_size = (img_size[0] // 4, img_size[1] // 4)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.strict_img_size = strict_img_size
        self.output_fmt = output_fmt
        dd = {"device": device, "dtype": dtype}
        layers: list[nn.Module] = []
        in_dim, out_dim = in_chans, embed_dim // 8
        for _ in range(2):
            layers += [
                nn.Conv2d(in_dim, out_dim, kernel_size=3, stride=2, padding=1, bias=False, **dd),
                nn.BatchNorm2d(out_dim, **dd),
                nn.ReLU(inplace=True),
            ]
            in_dim, out_dim = out_dim, out_dim * 2
        layers.append(nn.Conv2d(in_dim, embed_dim, kernel_size=1, **dd))
        self.proj = nn.Sequential(*layers)
        self.norm = norm_layer(embed_dim, **dd) if norm_layer else nn.Identity()

    def set_input_size(self, img_size: Any = None, patch_size: Any = None) -> None:
        if patch_size is not None and patch_size not in (4, (4, 4), [4, 4]):
            raise SpecError("ConvStem only supports patch_size 4.", "Keep the published patch size.")
        if img_size is not None:
            self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
            self.grid_size = (self.img_size[0] // 4, self.img_size[1] // 4)
            self.num_patches = self.grid_size[0] * self.grid_size[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.strict_img_size and tuple(x.shape[-2:]) != self.img_size:
            raise SpecError(
                f"ConvStem got {tuple(x.shape[-2:])} pixels, expected {self.img_size}.",
                "Resize patches to the spec's input size.",
            )
        x = self.proj(x).permute(0, 2, 3, 1)  # the norm acts on channels, as on the original's BNC tokens
        x = self.norm(x)
        return x if self.output_fmt == "NHWC" else x.permute(0, 3, 1, 2)


def _class_kwargs() -> dict[str, dict[str, Any]]:
    from timm import layers as timm_layers

    return {
        "mlp_layer": {
            "Mlp": timm_layers.Mlp,
            "SwiGLUPacked": timm_layers.SwiGLUPacked,
            "SwiGLU": timm_layers.SwiGLU,
            "GluMlp": timm_layers.GluMlp,
        },
        "act_layer": {"SiLU": nn.SiLU, "GELU": nn.GELU, "ReLU": nn.ReLU},
        "embed_layer": {"ConvStem": ConvStem},
    }


def resolve_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Replace class names (``mlp_layer="SwiGLUPacked"``) by the allowlisted classes."""
    table = _class_kwargs()
    out = dict(kwargs)
    for key, choices in table.items():
        value = out.get(key)
        if not isinstance(value, str):
            continue
        if value in choices:
            out[key] = choices[value]
        elif key != "act_layer":  # timm resolves activation names such as "silu" itself
            raise SpecError(f"{key}={value!r} is not a known layer.", f"Use one of {', '.join(choices)}.")
    return out


class AttentionalPooler(nn.Module):
    """open_clip's (and CONCH's) attentional pooler: learned queries attend to the layer-normed tokens.

    Parameter names as published: ``query``, ``attn`` (``nn.MultiheadAttention`` with separate
    ``q/k/v_proj_weight`` because the context width differs), ``ln_q``, ``ln_k``.
    """

    def __init__(self, d_model: int, context_dim: int, n_head: int = 8, n_queries: int = 1) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(n_queries, d_model))
        self.attn = nn.MultiheadAttention(d_model, n_head, kdim=context_dim, vdim=context_dim, batch_first=True)
        self.ln_q = nn.LayerNorm(d_model)
        self.ln_k = nn.LayerNorm(context_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ln_k(x)
        q = self.ln_q(self.query).unsqueeze(0).expand(x.shape[0], -1, -1)
        return self.attn(q, x, x, need_weights=False)[0]


class CoCaVisionTower(nn.Module):
    """A CoCa image tower: timm trunk → attentional pooler (one contrastive query) → LayerNorm.

    CONCH v1.5 (TRIDENT's ``CONCHVisionTower``): ``ln_contrast(attn_pool_contrast(trunk.forward_features(x))[:, 0])``.
    """

    def __init__(self, trunk: nn.Module, d_model: int = 768, n_head: int = 8) -> None:
        super().__init__()
        self.trunk = trunk
        self.attn_pool_contrast = AttentionalPooler(d_model, trunk.num_features, n_head, n_queries=1)
        self.ln_contrast = nn.LayerNorm(d_model)
        self.dim = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln_contrast(self.attn_pool_contrast(self.trunk.forward_features(x))[:, 0])


#: Towers a spec may name (``tower = "..."``): a module around the timm trunk, with its width.
TOWERS = {"conch_v15": CoCaVisionTower}
