"""A rough forecast of how long a planned experiment takes on this machine's device."""

from __future__ import annotations

from dataclasses import dataclass

from mitoviz.config import Settings, resolve_device
from mitoviz.experiment.plan import Plan

CNN_GFLOPS_224 = {"resnet18": 3.6, "resnet34": 7.3, "resnet50": 8.2}
GFLOPS_PER_S = {"cpu": 120.0, "cuda": 60_000.0}  # sustained, rough; measured figures are in bench/
GFLOP_PER_M_PARAMS = 0.4  # a ViT's forward at 224 px costs ≈ 0.4 GFLOP per million parameters


@dataclass(frozen=True)
class Estimate:
    seconds: float
    device: str
    parts: dict[str, float]

    @property
    def label(self) -> str:
        return f"≈ {duration(self.seconds)}"


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def estimate_seconds(plan: Plan, settings: Settings) -> Estimate:
    """Embedding from model sizes, probes per fit, the CNN from its FLOPs, maps per encoder."""
    from mitoviz.encoders import get_spec

    device = resolve_device(settings.device)
    rate = GFLOPS_PER_S["cuda" if device.startswith("cuda") else "cpu"]
    spec = plan.spec
    parts = {}
    for name in spec.encoders:
        params = get_spec(name, settings).params_m or 0.0
        parts[f"embed {name}"] = GFLOP_PER_M_PARAMS * params * len(plan.cells) / rate
    parts["probes"] = 0.02 * len(plan.fits) * len(spec.encoders) * len(spec.classifiers)
    if spec.e2e:
        per_image = 3 * CNN_GFLOPS_224[spec.e2e.arch] * (spec.e2e.input_size / 224) ** 2
        parts[spec.e2e.name] = len(plan.fits) * spec.e2e.epochs * spec.e2e.samples_per_epoch * per_image / rate
    parts["maps"] = 5.0 * len(spec.encoders) * max(1.0, len(plan.cells) / 5000)
    return Estimate(sum(parts.values()), device, parts)
