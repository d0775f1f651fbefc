"""Experiments: the spec (what to compare), the plan (every fit, checked before compute), the run."""

from mitoviz.experiment.spec import PRESETS, ExperimentSpec

__all__ = ["PRESETS", "ExperimentSpec"]
