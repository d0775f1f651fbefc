"""One trainer for the end-to-end CNN, LoRA and full fine-tuning of zoo encoders.

    from mitoviz.train import TrainMethod, FitJob, run_fit
    method = TrainMethod.from_dict({"preset": "fmc-lora", "encoder": "uni", "epochs": 20})
    model = train_fit(method, cells, train_rows, labels, seed=0, checkpoint_dir=folder,
                      reporter=reporter, device="cuda", patch=PatchSettings(224))
    probs = model.predict(cells, test_rows)      # P(positive), streamed
    feats = model.features(cells, rows)          # pooled embedding before the head (maps)
    model.save(folder); TrainedModel.load(folder, settings)

Methods and estimates import without torch; the rest loads it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mitoviz.train.method import KINDS, LORA_RECIPES, PRESETS, TrainMethod
from mitoviz.train.resources import FitEstimate, cpu_warning, estimate_fit, estimate_method

if TYPE_CHECKING:
    from mitoviz.train.dask_backend import run_fit_on_dask
    from mitoviz.train.fitted import FitRecord, TrainedModel
    from mitoviz.train.loop import train_fit
    from mitoviz.train.nets import LORA_TARGETS, imagenet_weights_file, lora_targets
    from mitoviz.train.task import FitJob, FitOutcome, run_fit

_LAZY_MODULES = {
    "dask_backend": ("run_fit_on_dask",),
    "fitted": ("FitRecord", "TrainedModel"),
    "loop": ("train_fit",),
    "nets": ("LORA_TARGETS", "imagenet_weights_file", "lora_targets"),
    "task": ("FitJob", "FitOutcome", "run_fit"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

# fmt: off
__all__ = [
    "KINDS", "LORA_RECIPES", "LORA_TARGETS", "PRESETS", "FitEstimate", "FitJob", "FitOutcome", "FitRecord",
    "TrainMethod", "TrainedModel", "cpu_warning", "estimate_fit", "estimate_method", "imagenet_weights_file",
    "lora_targets", "run_fit", "run_fit_on_dask", "train_fit",
]
# fmt: on


def __getattr__(name: str) -> Any:
    """Torch-backed names load on first use, so methods and estimates stay cheap to import."""
    if name not in _LAZY:
        raise AttributeError(f"module 'mitoviz.train' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"mitoviz.train.{_LAZY[name]}"), name)
