"""The failure page through AppTest: errors by rater agreement, the agreement filters, explained cards,
the default method, an enlarged cell, and tissue context off with its reason for ready patches."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from mitoviz.config import load_settings
from mitoviz.evaluate import stats
from mitoviz.experiment.run import run_experiment
from mitoviz.experiment.spec import ExperimentSpec
from mitoviz.report import best_method
from mitoviz.results import ResultsStore
from tests.ui.test_pages import _no_exception, _rows, _specs, app  # noqa: F401  (app: the shared page fixture)

PAGE = "views/failures.py"


def _select(at: AppTest, label: str):
    return next(s for s in at.selectbox if s.label == label)


@pytest.fixture(scope="module")
def ready_patch_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An AtNorM-MD-like set: class folders of ready patches (no slide, no position) and five experts' votes."""
    root = tmp_path_factory.mktemp("ready") / "AtNorM-MD"
    rng = np.random.default_rng(0)
    votes = []
    for label, shade in (("Atypical", 125), ("Normal", 140)):  # overlapping classes: some cells are missed
        (root / label).mkdir(parents=True)
        for i in range(16):
            mean = rng.normal(shade, 25)
            pixels = np.clip(rng.normal(mean, 30, (48, 40, 3)), 0, 255).astype(np.uint8)  # not square: padded
            Image.fromarray(pixels).save(root / label / f"{label}_{i}.png")
            agree = 5 if i % 4 else 3  # every fourth cell: a 3:2 split among the experts
            other = "Normal" if label == "Atypical" else "Atypical"
            votes.append([f"{label}_{i}.png", *([label] * agree + [other] * (5 - agree)), label])
    with open(root.parent / "AtNorM-MD_expert_votes.csv", "w", newline="") as fh:  # beside the folder
        writer = csv.writer(fh)
        writer.writerow(["Filename", *[f"Expert_{k}" for k in range(1, 6)], "Majority"])
        writer.writerows(votes)
    home = tmp_path_factory.mktemp("ready-home")
    spec = ExperimentSpec.from_dict({
        "name": "ready patches", "datasets": [str(root)], "encoders": ["handcrafted"], "classifiers": ["logreg"],
        "budgets": [2, 4], "seeds": [0, 1], "protocols": ["pooled"], "patch_size": 32, "projection": "pca",
    })
    run = run_experiment(spec, load_settings({"MITOVIZ_HOME": str(home), "MITOVIZ_DEVICE": "cpu"}))
    return home, run.run_id


def test_agreement_chart_filters_and_explained_cards(app, results_home):  # noqa: F811
    home, run_id = results_home
    at = app(PAGE, home, run=run_id)
    _no_exception(at)
    errors_tab, agreement_tab, _ = at.tabs
    # the chart: every method at every agreement level present, error rates with their intervals
    (chart,) = [s for s in _specs(at) if _rows(s, "level")]
    rows = _rows(chart, "level")
    assert {r["label"] for r in rows} == {"handcrafted", "random-vits16", "random-vits16+lora", "e2e-resnet18 (end-to-end)"}
    assert {r["level"] for r in rows} == {"all agree", "split"}  # the demo's raters: 2 agree, or 3 split 2:1
    assert all(0 <= r["low"] <= r["error"] <= r["high"] <= 1 for r in rows)
    assert chart["layer"][0]["encoding"]["y"]["scale"]["domain"][0] == 0  # the axis starts at zero
    assert any("hierarchical bootstrap" in c.value for c in agreement_tab.caption)
    # the default method is the best at the budget, by balanced accuracy
    run = ResultsStore(home / "results").get(run_id)
    from mitoviz.report import joined

    table = joined(run.fits(), run.metrics())
    best = best_method(table, protocol="pooled", train_domain="all", budget="5/class")
    assert _select(at, "Method").value == best
    # each card: the patch, an explained table (no bare "P"), the decision rule stated under the gallery
    frames = [df.value for df in errors_tab.dataframe]
    assert frames and all(list(f.columns) == ["method", "P(mitotic figure)", "call"] for f in frames)
    assert all(set(f["method"]) == {"handcrafted (frozen)", "random-vits16 (frozen)", "random-vits16+lora",
                                     "e2e-resnet18 (end-to-end)"}
               for f in frames)
    assert all(c.startswith(("✓ ", "✗ ")) for f in frames for c in f["call"])
    assert any("P(mitotic figure) > 0.5" in c.value and "exactly 0.5" in c.value for c in errors_tab.caption)
    n_images = len(errors_tab.get("image"))
    assert n_images == min(12, int(next(c.value for c in errors_tab.caption if "wrong of" in c.value).split()[0]))


def test_rater_filters_match_the_stats_masks(app, results_home):  # noqa: F811
    home, run_id = results_home
    at = app(PAGE, home, run=run_id)
    raters = _select(at, "Raters")
    assert raters.options == ["any agreement", "raters split", "all raters agree, every method wrong"]
    cells = ResultsStore(home / "results").get(run_id).cells().set_index("cell_id")
    for choice in raters.options[1:]:
        _select(at, "Raters").set_value(choice).run()
        _no_exception(at)
        caption = next(c.value for c in at.tabs[0].caption if "wrong of" in c.value)
        assert f"({choice})" in caption
        shown = [c.value.strip("`") for c in at.tabs[0].caption if c.value.startswith("`")]
        agreement = cells.loc[shown, "agreement"].to_numpy()
        if choice == "raters split":
            assert stats.raters_split(agreement).all()
        else:
            assert (stats.agreement_levels(agreement) == "all agree").all()
            frames = [df.value for df in at.tabs[0].dataframe]
            assert all(c.startswith("✗") for f in frames for c in f["call"])  # every method wrong
        assert len(shown) == min(12, int(caption.split()[0]))


def test_enlarge_shows_the_cell_its_context_and_its_facts(app, results_home):  # noqa: F811
    home, run_id = results_home
    at = app(PAGE, home, run=run_id)
    enlarge = next(b for b in at.button if b.label == "Enlarge")
    before = len(at.get("image"))
    enlarge.click().run()
    _no_exception(at)
    assert len(at.get("image")) == before + 2  # the large patch and its tissue context
    facts = next(df.value for df in at.dataframe if "fact" in df.value.columns)
    values = dict(zip(facts["fact"], facts["value"], strict=True))
    assert {"cell id", "label (reference)", "scanner", "tumour type", "slide", "position (level-0 px)"} <= set(values)
    captions = " ".join(c.value for c in at.caption)
    assert "raters:" in captions
    assert {"the patch the models saw", "tissue context (green: the patch)"} <= {
        c for img in at.get("image") for c in img.captions}


def test_ready_patches_have_no_context_and_no_scale_bar(app, ready_patch_home):  # noqa: F811
    home, run_id = ready_patch_home
    at = app(PAGE, home, run=run_id)
    _no_exception(at)
    toggles = [t for t in at.toggle if t.label == "Show tissue context"]
    assert toggles and all(t.disabled for t in toggles)
    captions = " ".join(c.value for c in at.caption)
    assert "Tissue context is off" in captions and "ready patches only" in captions
    assert "does not report its resolution" in captions and "Hatched: beyond the image edge" in captions
    assert "P(atypical)" in " ".join(c for df in at.dataframe for c in df.value.columns)
    # AtNorM-MD-style votes: five experts, 3:2 splits
    rows = _rows(next(s for s in _specs(at) if _rows(s, "level")), "level")
    assert {r["level"] for r in rows} == {"all agree", "split"}
    next(b for b in at.button if b.label == "Enlarge").click().run()
    _no_exception(at)
    assert any("no surrounding tissue" in i.value for i in at.info)


def test_a_run_without_votes_says_so(app, results_home, tmp_path):  # noqa: F811
    import shutil

    import pandas as pd

    home, run_id = results_home
    copy = tmp_path / "home"
    shutil.copytree(home / "results" / run_id, copy / "results" / run_id)
    cells_file = copy / "results" / run_id / "cells.parquet"
    pd.read_parquet(cells_file).assign(agreement=np.nan, rater_votes="").to_parquet(cells_file)
    at = app(PAGE, copy, run=run_id)
    _no_exception(at)
    assert not [s for s in _specs(at) if _rows(s, "level")]
    assert any("no per-rater votes" in i.value for i in at.info)
    assert _select(at, "Raters").disabled
