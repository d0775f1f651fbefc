"""Train/test splits that never put one slide on both sides, and nested label budgets."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mitoviz.errors import BudgetError, SpecError

SPLIT_MODES = ("slide", "cell", "predefined", "fmc")
LEAKY_SPLITS = ("cell", "fmc")  # split modes that put cells of one slide on both sides
CELL_SPLIT_WARNING = (
    "Cell-level split: cells of one slide (same scanner, stain and tumour) and overlapping patches fall on "
    "both sides, so in-domain scores are optimistic. Use it only to reproduce the published protocol."
)
FMC_VALIDATION_KEPT = 0.8  # the published probe keeps 80 % of each budget draw; the rest validates trained fits


def split_cells(
    cells: pd.DataFrame, mode: str = "slide", test_fraction: float = 0.2, seed: int = 0
) -> np.ndarray:
    """Assign every cell to ``train`` or ``test``.

    ``slide``: whole slides go to one side (the default: no leakage). ``cell``: a stratified random split per
    cell (cells of one slide on both sides). ``fmc``: the published benchmark's own draw (:func:`fmc_test_split`,
    not stratified). ``predefined``: the data set's own ``split`` column.
    """
    if mode not in SPLIT_MODES:
        raise SpecError(f"Unknown split mode {mode!r}.", f"Use one of {', '.join(SPLIT_MODES)}.")
    if mode == "fmc":
        test, _ = fmc_test_split(len(cells), test_fraction, seed)
        split = np.full(len(cells), "train", dtype=object)
        split[test] = "test"
        _check_both_sides(cells["label"].to_numpy(), split.astype(str), mode)
        return split.astype(str)
    if not 0 < test_fraction < 1:
        raise SpecError(f"Test fraction {test_fraction} must lie strictly between 0 and 1.")
    labels = cells["label"].to_numpy()
    rng = np.random.default_rng(seed)
    if mode == "predefined":
        split = cells["split"].to_numpy().astype(str)
        if not np.isin(split, ["train", "test"]).all():
            n = int((~np.isin(split, ["train", "test"])).sum())
            raise SpecError(
                f"{n} cells have no predefined split (the data set does not define one for them).",
                "Choose the slide-level or cell-level split mode instead.",
            )
    elif mode == "cell":
        split = np.full(len(cells), "train", dtype=object)
        for label in np.unique(labels):
            idx = np.flatnonzero(labels == label)
            rng.shuffle(idx)
            split[idx[: round(test_fraction * len(idx))]] = "test"
    else:
        split = _slide_split(cells, test_fraction, rng)
    _check_both_sides(labels, np.asarray(split, dtype=str), mode)
    return np.asarray(split, dtype=str)


def _slide_split(cells: pd.DataFrame, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    slides = cells["slide"].to_numpy().astype(str)
    names, per_slide = np.unique(slides, return_counts=True)
    if len(names) < 2:
        raise SpecError(
            "A slide-level split needs at least two slides; this data set has one.",
            "Use the cell-level split mode, and read in-domain results with care.",
        )
    target = test_fraction * len(cells)
    best: np.ndarray | None = None
    for _ in range(64):  # reshuffle until both classes land on both sides
        order = rng.permutation(len(names))
        taken = np.cumsum(per_slide[order])
        n_test = max(1, min(len(names) - 1, int(np.searchsorted(taken, target) + 1)))
        test_slides = set(names[order[:n_test]])
        split = np.where(np.isin(slides, list(test_slides)), "test", "train")
        if best is None:
            best = split
        if _both_sides(cells["label"].to_numpy(), split):
            return split
    return best


def _both_sides(labels: np.ndarray, split: np.ndarray) -> bool:
    classes = np.unique(labels)
    return all(np.isin(classes, labels[split == side]).all() for side in ("train", "test"))


def _check_both_sides(labels: np.ndarray, split: np.ndarray, mode: str) -> None:
    for side in ("train", "test"):
        missing = sorted(set(np.unique(labels)) - set(np.unique(labels[split == side])))
        if missing:
            raise SpecError(
                f"The {mode}-level split leaves no {', '.join(missing)} cells in the {side} set.",
                "Add data for that class, lower the test fraction, or use another split mode.",
            )


@dataclass(frozen=True, order=True)
class Budget:
    """A label budget: ``count`` labelled cells per class, or a ``fraction`` of the training pool."""

    kind: str  # "per_class" or "fraction"
    value: float

    def __post_init__(self) -> None:
        if self.kind == "per_class" and (self.value < 1 or self.value != int(self.value)):
            raise BudgetError(f"A per-class budget must be a whole number ≥ 1, got {self.value}.")
        if self.kind == "fraction" and not 0 < self.value <= 1:
            raise BudgetError(f"A fraction budget must lie in (0, 1], got {self.value}.")
        if self.kind not in ("per_class", "fraction"):
            raise BudgetError(f"Unknown budget kind {self.kind!r}.", "Use per_class or fraction.")

    @property
    def label(self) -> str:
        if self.kind == "per_class":
            return f"{int(self.value)}/class"
        return f"{self.value * 100:g}%"

    @classmethod
    def parse(cls, text: str | float | int) -> Budget:
        """``"10"`` or ``10`` → 10 per class; ``"1%"`` → 1 %; ``0.01`` (a float < 1) → 1 %."""
        if isinstance(text, int | float) and not isinstance(text, bool):
            return cls("fraction", float(text)) if 0 < text < 1 else cls("per_class", float(text))
        raw = str(text).strip().lower().replace("/class", "")
        match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*(%?)", raw)
        if not match:
            raise BudgetError(
                f"Cannot read the budget {text!r}.", "Write e.g. 10 (per class) or 1% (fraction)."
            )
        number = float(match.group(1))
        if match.group(2):
            return cls("fraction", number / 100)
        return cls.parse(int(number) if number == int(number) else number)


@dataclass(frozen=True)
class BudgetDraw:
    budget: Budget
    indices: np.ndarray  # positions into the pool
    per_class: dict[str, int]
    capped: bool


def draw_budgets(
    labels: np.ndarray, budgets: list[Budget], seed: int, on_overflow: str = "error"
) -> list[BudgetDraw]:
    """Stratified draws from a training pool, nested: for one seed a larger budget contains a smaller.

    Each class is shuffled once per seed; a budget takes the first n of every class. A per-class
    budget larger than a class raises :class:`BudgetError`, or with ``on_overflow="cap"`` takes the
    whole class and is marked ``capped``. A fraction takes at least one cell of every class.
    """
    labels = np.asarray(labels).astype(str)
    classes, sizes = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise BudgetError(
            f"The training pool holds one class only ({', '.join(classes) or 'none'}).",
            "A classifier needs both classes: choose a larger domain or another split.",
        )
    rng = np.random.default_rng(seed)
    order = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    draws = []
    for budget in budgets:
        take, capped = {}, False
        for c, n in zip(classes, sizes, strict=True):
            want = int(budget.value) if budget.kind == "per_class" else max(1, round(budget.value * n))
            if want > n:
                if on_overflow != "cap":
                    raise BudgetError(
                        f"Budget {budget.label} asks for {want} '{c}' cells but the training pool has {n}.",
                        "Lower the budget, allow capping, or add data.",
                    )
                want, capped = int(n), True
            take[str(c)] = want
        idx = np.sort(np.concatenate([order[c][: take[str(c)]] for c in classes]))
        draws.append(BudgetDraw(budget, idx, take, capped))
    return draws


def fmc_test_split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The published benchmark's test draw (FoundationModelComparison ``linear_probing.py``).

    ``rng = np.random.default_rng(seed)``; test = ``rng.choice(n, floor(n·test_fraction), replace=False)``
    over the rows in file order (not stratified, not by slide); pool = the other rows, sorted. Returns
    (test, pool); :func:`fmc_budget_draws` replays this draw on a new generator of the same seed and continues it.
    """
    rng = np.random.default_rng(seed)
    size = int(np.floor(n * test_fraction))
    if not 0 < size < n:
        raise SpecError(f"A test fraction of {test_fraction} gives {size} of {n} cells.", "Use more cells.")
    test = rng.choice(n, size=size, replace=False)
    return test, np.setdiff1d(np.arange(n), test)


def fmc_budget_draws(
    n: int, pool: np.ndarray, budgets: list[Budget], test_fraction: float, seed: int
) -> list[tuple[Budget, np.ndarray, np.ndarray]]:
    """The published training draws, budget by budget in the given order, from one generator per seed.

    After the test draw of :func:`fmc_test_split` (same seed, same generator), for each fraction f:
    ``m = floor(len(pool)·f)`` rows of ``pool`` (the published code skips a fraction that gives 0 rows with a
    warning; here it is a BudgetError, so no budget silently disappears), then ``int(0.8·m)`` of those are the
    training cells; the remaining 20 % are returned as the validation cells of trained methods.
    Returns (budget, train, validation) per budget; indices are positions in the cell table.
    """
    rng = np.random.default_rng(seed)
    rng.choice(n, size=int(np.floor(n * test_fraction)), replace=False)  # the test draw, replayed
    out = []
    for budget in budgets:
        if budget.kind != "fraction":
            raise BudgetError(f"The published protocol draws fractions of the pool, not {budget.label}.",
                              "Write budgets as fractions (0.1%, 1%, 10%, 100%) or choose another split mode.")
        size = int(np.floor(len(pool) * budget.value))
        if size <= 0:
            raise BudgetError(f"Budget {budget.label} of a pool of {len(pool)} cells is 0 cells.", "Raise the budget.")
        drawn = rng.choice(pool, size=size, replace=False)
        kept = int(FMC_VALIDATION_KEPT * size)
        train = rng.choice(drawn, size=kept, replace=False) if kept > 0 else drawn
        out.append((budget, train, np.setdiff1d(drawn, train)))
    return out


def fold_pools(
    labels: np.ndarray, groups: np.ndarray, train: np.ndarray, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation inside the training part, as the AMi-Br benchmark does it.

    ``StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)`` on ``train`` with the
    slides as groups; fold k validates, the other folds form the training pool. Returns (pool,
    validation) per fold as positions in the cell table.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if len(np.unique(groups[train])) < folds:
        raise SpecError(f"{folds} folds need at least {folds} slides in the training part; it has "
                        f"{len(np.unique(groups[train]))}.", "Use fewer folds.")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train[fit], train[val]) for fit, val in splitter.split(train, labels[train], groups[train])]
