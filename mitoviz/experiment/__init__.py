"""Experiments: the spec (what to compare) and the runner (the one code path that computes it)."""

from mitoviz.experiment.spec import PRESETS, E2ESpec, ExperimentSpec

__all__ = ["PRESETS", "E2ESpec", "ExperimentSpec"]
