"""Handcrafted features of a cell patch, batched in torch (CPU or GPU), no weights.

Stain/colour statistics of the centre (where the annotated cell lies) against a surrounding ring,
shape of the dark haematoxylin blob in the middle (area, axes, eccentricity, circularity, boundary
irregularity), and texture (gradient, Laplacian, difference-of-Gaussians, orientation coherence,
radial stain profile, histograms). Distances are in units of the patch side, so patch sizes compare.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Ruifrok & Johnston H&E-DAB stain vectors (rows: haematoxylin, eosin, DAB), as in scikit-image.
_RGB_FROM_HED = ((0.65, 0.70, 0.29), (0.07, 0.99, 0.11), (0.27, 0.57, 0.78))
_EPS = 1e-6
_H_RANGE = 2.0  # haematoxylin concentration range of the histogram (natural-log optical density)


def _gaussian_1d(sigma: float) -> torch.Tensor:
    radius = max(1, round(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


class HandcraftedFeatures(nn.Module):
    """``forward(x)`` maps RGB patches ``[B, 3, S, S]`` in 0…1 to ``[B, dim]`` features."""

    def __init__(self, size: int = 128) -> None:
        super().__init__()
        self.size = size
        u = (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5
        vv, uu = torch.meshgrid(u, u, indexing="ij")
        r = torch.sqrt(uu**2 + vv**2)
        self.register_buffer("uu", uu, persistent=False)
        self.register_buffer("vv", vv, persistent=False)
        self.register_buffer("centre", (r < 0.2).float(), persistent=False)
        self.register_buffer("ring", ((r >= 0.2) & (r < 0.45)).float(), persistent=False)
        self.register_buffer("inner", (r < 0.35).float(), persistent=False)
        annuli = torch.stack([((r >= a / 10) & (r < (a + 1) / 10)).float() for a in range(5)])
        self.register_buffer("annuli", annuli, persistent=False)
        hed_from_rgb = torch.linalg.inv(torch.tensor(_RGB_FROM_HED, dtype=torch.float64)).float()
        self.register_buffer("hed_from_rgb", hed_from_rgb, persistent=False)
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
        self.register_buffer("sobel", torch.stack([sobel, sobel.T])[:, None], persistent=False)
        lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
        self.register_buffer("laplacian", lap[None, None], persistent=False)
        for sigma in (1, 2, 4):
            self.register_buffer(f"gauss{sigma}", _gaussian_1d(sigma), persistent=False)
        self._names: list[str] | None = None

    # ---- small helpers on [B, S, S] maps -----------------------------------------------------------
    @staticmethod
    def _wmean(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return (v * m).sum((-2, -1)) / m.sum((-2, -1)).clamp_min(_EPS)

    def _wstd(self, v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        mean = self._wmean(v, m)
        var = self._wmean((v - mean[:, None, None]) ** 2, m)
        return var.clamp_min(0).sqrt()

    def _blur(self, img: torch.Tensor, sigma: int) -> torch.Tensor:
        k = getattr(self, f"gauss{sigma}")
        pad = k.numel() // 2
        x = F.pad(img[:, None], (pad, pad, pad, pad), mode="reflect")
        x = F.conv2d(x, k.view(1, 1, 1, -1))
        return F.conv2d(x, k.view(1, 1, -1, 1))[:, 0]

    def _sobel(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = F.conv2d(F.pad(img[:, None], (1, 1, 1, 1), mode="replicate"), self.sobel)
        return g[:, 0], g[:, 1]

    @staticmethod
    def _moments(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = v.flatten(1)
        mean = flat.mean(1, keepdim=True)
        std = flat.std(1, keepdim=True, unbiased=False).clamp_min(1e-3)
        z = (flat - mean) / std
        return (z**3).mean(1), (z**4).mean(1) - 3

    @staticmethod
    def _histogram(v: torch.Tensor, weights: torch.Tensor, bins: int, top: float) -> torch.Tensor:
        idx = (v / top * bins).long().clamp(0, bins - 1).flatten(1)
        w = weights.expand_as(v).flatten(1)
        counts = torch.zeros(v.shape[0], bins, device=v.device, dtype=v.dtype).scatter_add_(1, idx, w)
        return counts / counts.sum(1, keepdim=True).clamp_min(_EPS)

    @staticmethod
    def _otsu(v: torch.Tensor, bins: int = 64) -> torch.Tensor:
        flat = v.flatten(1)
        lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
        width = (hi - lo).clamp_min(_EPS)
        idx = ((flat - lo) / width * bins).long().clamp(0, bins - 1)
        counts = torch.zeros(flat.shape[0], bins, device=v.device, dtype=v.dtype)
        counts.scatter_add_(1, idx, torch.ones_like(flat))
        p = counts / flat.shape[1]
        centres = lo + (torch.arange(bins, device=v.device, dtype=v.dtype) + 0.5) / bins * width
        omega = p.cumsum(1)
        mu = (p * centres).cumsum(1)
        between = (mu[:, -1:] * omega - mu) ** 2 / (omega * (1 - omega)).clamp_min(_EPS)
        k = between[:, :-1].argmax(1, keepdim=True)
        return (lo + (k + 1).to(v.dtype) / bins * width)[:, 0]

    # ---- features ----------------------------------------------------------------------------------
    def _features(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        wmean, wstd = self._wmean, self._wstd
        c, ring, inner = self.centre, self.ring, self.inner
        rgb = x.clamp(0, 1)
        gray = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
        od = -torch.log(rgb.clamp_min(1.0 / 255))
        hed = torch.einsum("bchw,cd->bdhw", od, self.hed_from_rgb).clamp_min(0)
        h, e = hed[:, 0], hed[:, 1]
        mx, mn = rgb.max(1).values, rgb.min(1).values
        sat = (mx - mn) / mx.clamp_min(_EPS)
        out: list[tuple[str, torch.Tensor]] = []

        for region, m in (("centre", c), ("ring", ring)):
            for i, ch in enumerate("rgb"):
                out.append((f"rgb_mean_{region}_{ch}", wmean(rgb[:, i], m)))
        for i, ch in enumerate("rgb"):
            out.append((f"rgb_std_centre_{ch}", wstd(rgb[:, i], c)))
        for region, m in (("centre", c), ("ring", ring)):
            for i, ch in enumerate("rgb"):
                out.append((f"od_mean_{region}_{ch}", wmean(od[:, i], m)))
        h_masked = torch.where(c.bool(), h, torch.nan).flatten(1)
        out += [
            ("h_mean_centre", wmean(h, c)),
            ("h_std_centre", wstd(h, c)),
            ("h_p90_centre", torch.nanquantile(h_masked, 0.9, dim=1)),
            ("h_mean_ring", wmean(h, ring)),
            ("h_std_ring", wstd(h, ring)),
            ("e_mean_centre", wmean(e, c)),
            ("e_mean_ring", wmean(e, ring)),
            ("h_contrast", wmean(h, c) - wmean(h, ring)),
            ("e_contrast", wmean(e, c) - wmean(e, ring)),
            ("brightness_contrast", wmean(gray, c) - wmean(gray, ring)),
            ("sat_mean_centre", wmean(sat, c)),
            ("sat_mean_ring", wmean(sat, ring)),
        ]
        gray_skew, gray_kurt = self._moments(gray)
        h_skew, _ = self._moments(h)
        out += [("gray_skew", gray_skew), ("gray_kurtosis", gray_kurt), ("h_skew", h_skew)]

        # the dark central blob: smoothed haematoxylin above its Otsu threshold, inside the inner disk
        hs = F.avg_pool2d(h[:, None], 3, 1, 1, count_include_pad=False)[:, 0]
        thr = self._otsu(hs)
        m = (hs > thr[:, None, None]).to(x.dtype) * inner
        mass = m.sum((-2, -1)).clamp_min(_EPS)
        cx, cy = wmean(self.uu, m), wmean(self.vv, m)
        du, dv = self.uu - cx[:, None, None], self.vv - cy[:, None, None]
        sxx, syy, sxy = wmean(du * du, m), wmean(dv * dv, m), wmean(du * dv, m)
        half_tr = (sxx + syy) / 2
        disc = (half_tr**2 - (sxx * syy - sxy**2)).clamp_min(0).sqrt()
        l1, l2 = half_tr + disc, (half_tr - disc).clamp_min(0)
        eroded = 1 - F.max_pool2d(1 - m[:, None], 3, 1, 1)[:, 0]
        boundary = (m - eroded).clamp_min(0)
        perim = boundary.sum((-2, -1))
        radius = torch.sqrt(du**2 + dv**2)
        r_mean = wmean(radius, boundary)
        area = mass / self.size**2
        out += [
            ("blob_threshold", thr),
            ("blob_area", area),
            ("blob_offset", torch.sqrt(cx**2 + cy**2)),
            ("blob_major", 4 * l1.sqrt()),
            ("blob_minor", 4 * l2.sqrt()),
            ("blob_eccentricity", torch.sqrt((1 - l2 / l1.clamp_min(_EPS)).clamp(0, 1))),
            ("blob_perimeter", perim / self.size),
            ("blob_circularity", (4 * math.pi * mass / perim.clamp_min(1) ** 2).clamp(0, 2)),
            ("blob_irregularity", wstd(radius, boundary) / r_mean.clamp_min(_EPS)),
            ("blob_extent", (area / (4 * math.pi * (l1 * l2).sqrt()).clamp_min(_EPS)).clamp(0, 2)),
            ("blob_spread", wmean(radius, m) / (area / math.pi).sqrt().clamp_min(_EPS)),
            ("blob_h_mean", wmean(h, m)),
            ("blob_h_std", wstd(h, m)),
            ("blob_gray_mean", wmean(gray, m)),
            ("blob_h_contrast", wmean(h, m) - wmean(h, (1 - m) * inner)),
        ]

        gx, gy = self._sobel(gray)
        grad = torch.sqrt(gx**2 + gy**2 + _EPS)
        hx, hy = self._sobel(hs)
        h_grad = torch.sqrt(hx**2 + hy**2 + _EPS)
        lap = F.conv2d(F.pad(gray[:, None], (1, 1, 1, 1), mode="replicate"), self.laplacian)[:, 0].abs()
        jxx, jyy, jxy = self._blur(gx * gx, 2), self._blur(gy * gy, 2), self._blur(gx * gy, 2)
        coherence = torch.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (jxx + jyy + _EPS)
        g1, g2, g4 = self._blur(gray, 1), self._blur(gray, 2), self._blur(gray, 4)
        out += [
            ("grad_mean_centre", wmean(grad, c)),
            ("grad_mean_ring", wmean(grad, ring)),
            ("grad_std_centre", wstd(grad, c)),
            ("h_grad_centre", wmean(h_grad, c)),
            ("h_grad_boundary", wmean(h_grad, boundary)),
            ("laplacian_centre", wmean(lap, c)),
            ("laplacian_ring", wmean(lap, ring)),
            ("coherence_centre", wmean(coherence, c)),
            ("dog_fine_centre", wmean((g1 - g2).abs(), c)),
            ("dog_coarse_centre", wmean((g2 - g4).abs(), c)),
        ]
        for i in range(self.annuli.shape[0]):
            out.append((f"h_radial_{i}", wmean(h, self.annuli[i])))
        p = self._histogram(gray, c, 16, 1.0 + _EPS)
        out.append(("gray_entropy_centre", -(p * p.clamp_min(_EPS).log()).sum(1)))
        hist = self._histogram(h, c, 8, _H_RANGE)
        out += [(f"h_hist_centre_{i}", hist[:, i]) for i in range(hist.shape[1])]
        return out

    def feature_names(self) -> list[str]:
        """Names of the output columns, in order."""
        if self._names is None:
            probe = torch.zeros(1, 3, self.size, self.size, device=self.uu.device)
            self._names = [name for name, _ in self._features(probe)]
        return self._names

    @property
    def dim(self) -> int:
        return len(self.feature_names())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([v for _, v in self._features(x.float())], dim=1)
