"""A rough forecast of how long a planned experiment takes on this machine's device, part by part."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mitoviz.config import Settings, resolve_device
from mitoviz.experiment.plan import Plan

GFLOPS_PER_S = {"cpu": 120.0, "cuda": 60_000.0}  # sustained embedding forward, rough; measured figures: bench/
GFLOP_PER_M_PARAMS = 0.4  # a ViT's forward at 224 px costs ≈ 0.4 GFLOP per million parameters
SECONDS_PER_PROBE_FIT = 0.02
SECONDS_PER_MAP = 5.0  # per encoder and 5,000 cells


@dataclass(frozen=True)
class Estimate:
    seconds: float
    device: str
    parts: dict[str, float]
    warnings: list[str] = field(default_factory=list)  # e.g. LoRA of a large ViT on a CPU
    memory_gb: dict[str, float] = field(default_factory=dict)  # per trained method and fit

    @property
    def label(self) -> str:
        return f"≈ {duration(self.seconds)}"


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def estimate_seconds(plan: Plan, settings: Settings) -> Estimate:
    """Embedding from model sizes, probes per fit, each trained method from its FLOPs (mitoviz.train), maps."""
    from mitoviz.encoders import get_spec
    from mitoviz.train import estimate_method

    device = resolve_device(settings.device, here=not settings.dask_address)
    rate = GFLOPS_PER_S["cuda" if device.startswith("cuda") else "cpu"]
    spec = plan.spec
    parts: dict[str, float] = {}
    for name in spec.encoders:
        encoder = get_spec(name, settings)
        scale = (encoder.input_size / 224) ** 2  # tokens (or feature-map area) grow with the input's area
        parts[f"embed {name}"] = GFLOP_PER_M_PARAMS * (encoder.params_m or 0.0) * scale * len(plan.cells) / rate
    parts["probes"] = SECONDS_PER_PROBE_FIT * len(plan.fits) * len(spec.encoders) * len(spec.classifiers)
    warnings, memory = [], {}
    cores = max(1, (os.cpu_count() or 2))
    for method in spec.trained if plan.fits else ():
        total = 0.0
        for fit in plan.fits:
            one = estimate_method(method, len(fit.train), device, settings, cpu_cores=cores)
            total += one.seconds
        parts[f"train {method.method_id}"] = total
        memory[method.method_id] = one.memory_gb
        if one.warning and one.warning not in warnings:
            warnings.append(one.warning)
    parts["maps"] = SECONDS_PER_MAP * (len(spec.encoders) + len(spec.trained)) * max(1.0, len(plan.cells) / 5000)
    return Estimate(sum(parts.values()), device, parts, warnings, memory)
