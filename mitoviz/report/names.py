"""Display names the result pages share: metrics, domain axes and how a method was trained."""

from __future__ import annotations

from collections.abc import Iterable

METRICS = {
    "balanced_accuracy": "Balanced accuracy",
    "auroc": "AUROC",
    "f1": "F1 (mitotic figure)",
    "accuracy": "Accuracy",
    "kappa": "Cohen's κ",
    "ece": "ECE (lower is better)",
}
#: Usual domain axes, in the order pages list them; any other categorical column follows, sorted.
AXIS_ORDER = ("scanner", "tumor_type", "species", "source", "centre", "dataset")
#: The data set column and axis: external test sets are test domains of this axis only (plan contract 3).
DATASET = "dataset"
AXIS_NAMES = {
    "tumor_type": "tumour type",
    "centre": "centre",
    "source": "source data set",
    "dataset": "data set",
}
#: How a method of each kind was trained (contract 2 of the plan); a probe is a frozen encoder.
KIND_NAMES = {"probe": "frozen", "lora": "LoRA", "finetune": "fine-tuned", "e2e": "end-to-end"}


def axis_name(axis: str) -> str:
    """Readable name of a domain axis (a CellTable column): ``tumor_type`` → ``tumour type``."""
    return AXIS_NAMES.get(axis, axis.replace("_", " "))


def ordered_axes(axes: Iterable[str]) -> list[str]:
    """Distinct axes, the usual ones first (:data:`AXIS_ORDER`), then any other column alphabetically."""
    present = set(axes)
    return [a for a in AXIS_ORDER if a in present] + sorted(present - set(AXIS_ORDER))
