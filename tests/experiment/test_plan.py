"""Planning: the published protocols draw exactly the cells their descriptions say; external test sets,
domain columns and missing images are checked before any compute."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from mitoviz.config import Settings
from mitoviz.errors import BudgetError, DataError, SpecError
from mitoviz.experiment.plan import EXTERNAL, plan_fits, prepare
from mitoviz.experiment.spec import PRESETS, ExperimentSpec

from ..data.formats import write_amibr, write_png

MIDOGPP_CELLS = 26_286  # MIDOG++: FMC's published table of training sizes (protocols.md §1)
MIDOGPP_SIZES = {0.001: 16, 0.01: 168, 0.1: 1681, 1.0: 16823}


def _cells(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "cell_id": [f"c{i}" for i in range(n)], "label": np.where(rng.random(n) < 0.45, "mitotic figure", "imposter"),
        "slide": [f"s{i % 503}" for i in range(n)], "split": "", "scanner": "unknown", "tumor_type": "unknown",
        EXTERNAL: False,
    })


def _published_draws(n: int, seed: int, fractions: list[float]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """FoundationModelComparison linear_probing.py, line by line (the reference)."""
    rng = np.random.default_rng(seed)
    test_indices = rng.choice(n, size=int(np.floor(n * 0.2)), replace=False)
    train_pool_indices = np.setdiff1d(np.arange(n), test_indices)
    draws = []
    for train_size in fractions:
        abs_train_size = int(np.floor(len(train_pool_indices) * train_size))
        train_indices = rng.choice(train_pool_indices, size=abs_train_size, replace=False)
        drawn = train_indices
        target_train_size = int(0.8 * len(train_indices))
        if target_train_size > 0:
            train_indices = rng.choice(train_indices, size=target_train_size, replace=False)
        draws.append((train_indices, np.setdiff1d(drawn, train_indices)))
    return test_indices, draws


def test_ganz2025_draws_the_published_cells_and_sizes() -> None:
    spec = PRESETS["ganz2025"].with_changes(protocols=("pooled",), seeds=(42, 43))
    cells = _cells(MIDOGPP_CELLS)
    fits, warnings = plan_fits(cells, spec)
    assert any("Cell-level split" in w for w in warnings)
    for seed in (42, 43):
        test, draws = _published_draws(MIDOGPP_CELLS, seed, [0.001, 0.01, 0.1, 1.0])
        mine = [f for f in fits if f.seed == seed]
        assert [len(f.train) for f in mine] == list(MIDOGPP_SIZES.values())
        for fit, (train, val) in zip(mine, draws, strict=True):
            assert np.array_equal(np.sort(fit.test), np.sort(test)) and len(fit.test) == 5257
            assert np.array_equal(fit.train, np.sort(train))
            assert np.array_equal(fit.val, np.sort(val))  # the 20 % the probe leaves out validates trained fits
            assert not set(fit.train) & set(fit.test)


def test_a_published_draw_with_one_class_is_refused_at_planning() -> None:
    """0.1 % of 4,000 cells is 3 drawn, 2 kept: some seed draws a single class, which no classifier can fit."""
    spec = PRESETS["ganz2025"].with_changes(protocols=("pooled",), seeds=tuple(range(42, 52)))
    with pytest.raises(BudgetError, match=r"Budget 0.1% of seed \d+ draws 2 training cell\(s\), all") as info:
        plan_fits(_cells(4000), spec)
    assert "Raise the smallest budget" in info.value.fix


def test_folds_match_stratified_group_kfold_inside_the_training_part() -> None:
    cells = _cells(600)
    cells["split"] = np.where(cells["slide"].isin([f"s{i}" for i in range(0, 503, 4)]), "test", "train")
    spec = ExperimentSpec.from_dict({"name": "f", "datasets": ["x"], "encoders": ["handcrafted"], "budgets": ["100%"],
                                     "seeds": [42], "folds": 5, "split": "predefined"})
    fits, _ = plan_fits(cells, spec)
    train = np.flatnonzero(cells["split"] == "train")
    reference = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=42).split(
        train, cells["label"].to_numpy()[train], cells["slide"].to_numpy()[train])
    assert [f.seed for f in fits] == [0, 1, 2, 3, 4]
    for fit, (fit_rows, val_rows) in zip(fits, reference, strict=True):
        assert np.array_equal(np.sort(fit.train), np.sort(train[fit_rows]))
        assert np.array_equal(np.sort(fit.val), np.sort(train[val_rows]))
        assert np.array_equal(np.sort(fit.test), np.flatnonzero(cells["split"] == "test"))


def test_unknown_domain_column_is_refused_with_the_columns_there() -> None:
    cells = _cells(200).assign(scanner=lambda c: np.where(c.index % 2, "A", "B"))
    spec = ExperimentSpec.from_dict({"name": "x", "datasets": ["x"], "encoders": ["e"], "budgets": [2],
                                     "protocols": ["cross:stain"]})
    with pytest.raises(SpecError, match=r"Unknown domain axis 'stain'.*\['scanner'\]"):
        plan_fits(cells, spec)


@pytest.fixture
def amibr_roots(settings: Settings, tmp_path: Path) -> Settings:
    """An AMi-Br-format folder (two sources) and an AtNorM-style class-folder set under one data root."""
    import dataclasses

    root = tmp_path / "data"
    rows = []
    for i in range(40):
        source, slide = ("MIDOG21", f"{1 + i % 8 * 18:03d}.tiff") if i < 24 else ("TUPAC16", f"{1 + i % 5}_stitched1.tif")
        atypical = i % 3 == 0
        rows.append((slide, source, 100 + i, "AMF other" if atypical else "NMF metaphase", "", atypical, atypical, "",
                     atypical))
    write_amibr(root / "AMi-Br", rows, skip_patch=None)
    for cls, n in (("Atypical", 4), ("Normal", 8), ("Unsure", 2)):
        for i in range(n):
            write_png(root / "AtNorM-Br" / cls / f"{cls}_{i}.png", size=64)
    return dataclasses.replace(settings, data_roots=(root,))


def _amibr_spec(**changes: object) -> ExperimentSpec:
    base = {"name": "amibr", "datasets": ["amibr"], "encoders": ["handcrafted"], "classifiers": ["logreg"],
            "budgets": [3], "seeds": [0], "protocols": ["pooled", "cross:source"], "test_datasets": ["atnorm-br"],
            "patch_size": 64, "projection": "none"}
    return ExperimentSpec.from_dict({**base, **changes})


def test_external_test_set_is_tested_never_trained_and_odd_classes_are_left_out(amibr_roots: Settings) -> None:
    plan = prepare(_amibr_spec(), amibr_roots)
    external = plan.cells[EXTERNAL].to_numpy()
    assert plan.cells.loc[external, "dataset"].unique().tolist() == ["atnorm-br"]
    assert int(external.sum()) == 12  # the 2 'unsure' patches are a class the training data lacks
    assert any("class(es) ['unsure']" in w for w in plan.warnings)
    assert plan.positive == "atypical" and "dataset" in plan.axes and "source" in plan.axes
    for fit in plan.fits:
        assert not external[fit.train].any() and external[fit.test].sum() == 12
    assert {f.train_domain for f in plan.fits if f.protocol == "cross:source"} == {"MIDOG21", "TUPAC16"}


def test_external_set_without_a_shared_class_is_refused(amibr_roots: Settings) -> None:
    root = amibr_roots.data_roots[0]
    shutil.rmtree(root / "AtNorM-Br")
    for cls in ("Mitosis", "Hard negative"):
        write_png(root / "AtNorM-Br" / cls / "a.png", size=32)
    with pytest.raises(DataError, match=r"none of which the training data has"):
        prepare(_amibr_spec(), amibr_roots)


def test_missing_images_stop_the_plan_unless_dropped(amibr_roots: Settings) -> None:
    patch = next((amibr_roots.data_roots[0] / "AMi-Br" / "patches" / "normal").iterdir())
    patch.unlink()
    with pytest.raises(DataError, match=r"1 image file\(s\) of 1 cell\(s\) are missing") as info:
        prepare(_amibr_spec(), amibr_roots)
    assert 'missing_images = "drop"' in info.value.fix
    plan = prepare(_amibr_spec(missing_images="drop"), amibr_roots)
    assert len(plan.cells) == 39 + 12 and any("left out 1 cell(s)" in w for w in plan.warnings)


def test_headless_amibr_experiment_runs_cross_source_and_the_external_set(amibr_roots: Settings) -> None:
    from mitoviz.experiment.run import run_experiment

    run = run_experiment(_amibr_spec(seeds=[0, 1]), amibr_roots)
    metrics, fits = run.metrics(), run.fits()
    assert run.complete and set(fits["protocol"]) == {"pooled", "cross:source"}
    by_axis = metrics.groupby("test_axis")["test_domain"].agg(lambda d: sorted(set(d))).to_dict()
    assert by_axis["dataset"] == ["amibr", "atnorm-br"]
    assert by_axis["source"] == ["MIDOG21", "TUPAC16"]
    external = metrics[(metrics["test_axis"] == "dataset") & (metrics["test_domain"] == "atnorm-br")]
    assert len(external) == len(fits) and (external["n"] == 12).all()
    own = metrics[metrics["test_axis"] == "all"]
    assert (own["n"] < 40).all()  # the experiment's own test cells only, never the external ones
    assert run.manifest()["axes"][-1] == "dataset"


def test_fold_validation_cells_stay_inside_the_training_domain() -> None:
    cells = _cells(600).assign(scanner=lambda c: np.array(["A", "B", "C"])[c.index % 3])
    spec = ExperimentSpec.from_dict({"name": "f", "datasets": ["x"], "encoders": ["e"], "budgets": ["100%"],
                                     "seeds": [7], "folds": 3, "protocols": ["lodo:scanner", "cross:scanner"]})
    fits, _ = plan_fits(cells, spec)
    scanner = cells["scanner"].to_numpy()
    for fit in fits:
        assert set(scanner[fit.val]) == set(scanner[fit.train]), (fit.protocol, fit.train_domain)
        assert not set(fit.val) & set(fit.train) and not set(fit.val) & set(fit.test)


def test_a_run_is_not_resumed_on_changed_data(amibr_roots: Settings) -> None:
    from mitoviz.experiment.run import run_experiment

    spec = _amibr_spec(missing_images="drop", protocols=["pooled"])
    run = run_experiment(spec, amibr_roots)
    next((amibr_roots.data_roots[0] / "AMi-Br" / "patches" / "normal").iterdir()).unlink()
    with pytest.raises(DataError, match="The data changed since run"):
        run_experiment(spec, amibr_roots, run_id=run.run_id)
