"""The end-to-end CNN baseline: a ResNet trained on raw patches (Ganz et al. / FMC recipe).

Adam (lr 1e-4), batch 16, class-balanced sampling (50 % mitotic figures per batch on average),
centre jitter of up to ±10 % of the patch, flips and right-angle rotations, binary cross-entropy
on one logit, and the checkpoint with the lowest validation loss (20 % of the labelled draw).
Not in the published recipe: after each epoch the BatchNorm statistics are recomputed exactly on
(a random 512 of) the training cells, which steadies short runs such as the CPU demo.
ImageNet initialisation when the torchvision weights are on disk, random otherwise (recorded).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mitoviz.errors import BudgetError
from mitoviz.progress import Reporter

BN_CALIBRATION_CELLS = 512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class E2EResult:
    model: nn.Module
    init: str  # "imagenet" or "random"
    epochs_run: int
    best_epoch: int
    best_val_loss: float


def imagenet_weights_file(arch: str, weights_root: Path | None = None) -> Path | None:
    """torchvision's ImageNet weights for ``arch`` if present locally (weights folder or torch hub cache)."""
    import torchvision

    enum = torchvision.models.get_model_weights(arch).DEFAULT
    filename = Path(enum.url).name
    candidates = [Path(torch.hub.get_dir()) / "checkpoints" / filename]
    if weights_root is not None:
        candidates[:0] = [weights_root / f"imagenet-{arch}" / filename, weights_root / filename]
    return next((p for p in candidates if p.is_file()), None)


def build_cnn(arch: str, weights_file: Path | None = None) -> tuple[nn.Module, str]:
    """A torchvision ResNet with one output logit; ImageNet weights loaded safely when given."""
    import torchvision

    model = torchvision.models.get_model(arch, weights=None)
    init = "random"
    if weights_file is not None:
        state = torch.load(weights_file, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        init = "imagenet"
    model.fc = nn.Linear(model.fc.in_features, 1)
    return model, init


class _Batches:
    """Turns uint8 [n, S, S, 3] crops into normalised float batches on a device."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def __call__(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(pixels).to(self.device).permute(0, 3, 1, 2).float().div_(255)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)


def centre_crop(images: np.ndarray, size: int) -> np.ndarray:
    off = (images.shape[1] - size) // 2
    return images[:, off : off + size, off : off + size]


def _jittered(images: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random crops of ``size`` from larger patches (centre jitter), flips and right-angle turns."""
    slack = images.shape[1] - size
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        dy, dx = rng.integers(0, slack + 1, size=2)
        crop = image[dy : dy + size, dx : dx + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out[i] = np.rot90(crop, k=int(rng.integers(4)))
    return out


def _val_split(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """20 % of each class for validation, when a class has at least 2 cells to spare one."""
    val = []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) >= 2:
            val.extend(idx[: max(1, round(0.2 * len(idx)))].tolist())
    val_idx = np.sort(np.asarray(val, dtype=int))
    return np.setdiff1d(np.arange(len(labels)), val_idx), val_idx


def train_e2e(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    arch: str = "resnet50",
    input_size: int = 224,
    epochs: int = 100,
    samples_per_epoch: int = 1280,
    batch_size: int = 16,
    lr: float = 1e-4,
    patience: int = 20,
    seed: int = 0,
    device: str = "cpu",
    weights_file: Path | None = None,
    reporter: Reporter | None = None,
) -> E2EResult:
    """Train on ``images`` (uint8 [n, S, S, 3], S ≥ input_size; the margin is the jitter range).

    ``labels`` are 1 for the positive class. Returns the best model by validation loss.
    """
    reporter = reporter or Reporter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    model, init = build_cnn(arch, weights_file)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    to_batch = _Batches(device)
    train_idx, val_idx = _val_split(labels, rng)
    val_x = centre_crop(images[val_idx], input_size)
    if len(train_idx) > BN_CALIBRATION_CELLS:
        calibration_x = centre_crop(images[np.sort(rng.choice(train_idx, BN_CALIBRATION_CELLS, replace=False))], input_size)
    else:
        calibration_x = centre_crop(images[train_idx], input_size)
    val_y = torch.tensor(labels[val_idx], dtype=torch.float32, device=device)
    pos, neg = train_idx[labels[train_idx] == 1], train_idx[labels[train_idx] == 0]
    if not len(pos) or not len(neg):
        raise BudgetError("The end-to-end CNN needs labelled cells of both classes.", "Raise the label budget.")
    best = (math.inf, 0, copy.deepcopy(model.state_dict()))
    epochs_run = 0
    for epoch in range(1, epochs + 1):
        model.train()
        # Each draw picks a class with probability 1/2, then a cell of that class.
        use_pos = rng.random(samples_per_epoch) < 0.5
        chosen = np.where(use_pos, rng.choice(pos, samples_per_epoch), rng.choice(neg, samples_per_epoch))
        for start in range(0, samples_per_epoch, batch_size):
            reporter.check()  # cancel within one batch
            batch = chosen[start : start + batch_size]
            x = to_batch(_jittered(images[batch], input_size, rng))
            y = torch.tensor(labels[batch], dtype=torch.float32, device=device)
            loss = F.binary_cross_entropy_with_logits(model(x).squeeze(1), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        epochs_run = epoch
        _recalibrate_batchnorm(model, calibration_x, to_batch)
        if len(val_idx):
            val_loss = F.binary_cross_entropy_with_logits(_logits(model, val_x, to_batch), val_y).item()
        else:
            val_loss = float(loss.item())
        if val_loss < best[0]:
            best = (val_loss, epoch, copy.deepcopy(model.state_dict()))
        elif epoch - best[1] >= patience:
            break
    model.load_state_dict(best[2])
    return E2EResult(model.eval(), init, epochs_run, best[1], best[0])


def _recalibrate_batchnorm(model: nn.Module, images: np.ndarray, to_batch: _Batches, batch_size: int = 128) -> None:
    """Set BatchNorm running statistics to the exact average over ``images`` (the training cells).

    After a few hundred steps the exponential running averages still remember their initial values,
    so evaluation-mode outputs drift from training-mode ones; short CPU-sized runs need this most.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            model(to_batch(images[start : start + batch_size]))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def _logits(model: nn.Module, images: np.ndarray, to_batch: _Batches, batch_size: int = 128) -> torch.Tensor:
    model.eval()
    outs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            outs.append(model(to_batch(images[start : start + batch_size])).squeeze(1).float())
    return torch.cat(outs) if outs else torch.empty(0)


def predict_e2e(model: nn.Module, images: np.ndarray, input_size: int, device: str = "cpu") -> np.ndarray:
    """P(positive) for uint8 patches (centre-cropped to ``input_size``)."""
    return torch.sigmoid(_logits(model, centre_crop(images, input_size), _Batches(device))).cpu().numpy()
