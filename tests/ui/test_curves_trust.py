"""The curves page through AppTest on a finished run: bootstrap intervals, paired verdicts, labels needed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mitoviz.evaluate import stats
from mitoviz.report import trust
from mitoviz.results import ResultsStore, Run
from tests.report.runs import write_run
from tests.ui.test_pages import _specs as specs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("trust-ui")
    write_run(home)
    return home


def page(home: Path, path: str, run: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(path)
    if run:
        at.query_params["run"] = run
    return at.run()


def rows(spec: dict, column: str) -> pd.DataFrame:
    return pd.concat([t for t in spec["tables"] if column in t.columns], ignore_index=True)


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_curves_show_intervals_verdicts_and_labels_needed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = page(home, "views/curves.py")
    ok(at)
    curve = rows(specs(at)[0], "low")
    assert len(curve) == 4 * 3 and curve["low"].notna().all()
    assert curve["low"].between(0, 1).all() and curve["high"].between(0, 1).all()
    assert (curve["low"] <= curve["high"]).all()
    assert any("hierarchical bootstrap intervals" in c.value for c in at.caption)
    verdicts = next(m.value for m in at.markdown if " at 32/class: " in m.value)
    assert (
        verdicts.count("\n") == 2
        and "[" in verdicts
        and ("real (interval excludes 0)" in verdicts or "could be chance" in verdicts)
    )
    a, b = (next(s for s in at.selectbox if s.label == f"Method {x}").value for x in "AB")
    assert verdicts.startswith(f"- **{a} − {b} at 2/class")
    needed = next(d.value for d in at.dataframe if "labels to 95 % of its own score" in d.value.columns)
    assert len(needed) == 4 and needed["mean score over the log label axis"].between(0, 1).all()
    for frame in at.dataframe:
        assert not {"n_seeds", "ci_low", "ci_high", "label", "n_train"} & set(frame.value.columns)
    matrix = rows(specs(at)[2], "p_holm")
    assert len(matrix) == 12 and set(matrix["a"]) == set(curve["label"])
    assert any("Holm's correction for the 6 pairwise comparisons" in c.value for c in at.caption)
    labels = [b.label for b in at.get("download_button")]
    assert labels[:3] == ["Data (CSV)", "Chart (PNG)", "Chart (SVG)"] and "Labels needed (CSV)" in labels
    assert any(w.value.startswith("One point includes fits that predict one class") for w in at.warning)


def test_choosing_methods_facets_and_a_metric_without_interval(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = page(home, "views/curves.py")
    next(s for s in at.selectbox if s.label == "Method A").set_value("virchow2").run()
    next(s for s in at.selectbox if s.label == "Method B").set_value("e2e-resnet18 (end-to-end)").run()
    ok(at)
    assert any("virchow2 − e2e-resnet18 (end-to-end) at 8/class: " in m.value for m in at.markdown)
    paired = rows(specs(at)[1], "verdict")
    assert list(paired["budget"]) == ["2/class", "8/class", "32/class"]
    next(s for s in at.selectbox if s.label == "Split test results by").set_value("scanner").run()
    ok(at)
    facets = rows(specs(at)[0], "low")
    assert set(facets["test_domain"]) == {"Scanner A", "Scanner B"} and facets["high"].between(0, 1).all()
    legend = specs(at)[0]["spec"]["layer"][1]["encoding"]["color"]["legend"]
    assert legend["orient"] == "top"  # above the facets: never clipped at the right edge
    next(s for s in at.selectbox if s.label == "Metric").set_value("ece").run()
    ok(at)
    assert rows(specs(at)[0], "mean")["low"].isna().all()
    assert any("Paired comparisons need" in i.value for i in at.info)
    assert any("ECE is not one" in c.value for c in at.caption)


def test_the_page_reads_precomputed_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run: Run = write_run(tmp_path)
    made = trust.precompute_facets(run, ("balanced_accuracy",), test_axes=["all"])
    points = made.points.assign(low=0.123, fits_key=trust.fits_key(run, run.fits()))  # a marker only the table has
    run.write_table("trust_points", points)
    monkeypatch.setenv("MITOVIZ_HOME", str(tmp_path))
    at = page(tmp_path, "views/curves.py", run.run_id)
    ok(at)
    assert (rows(specs(at)[0], "low")["low"] == 0.123).all()
    next(s for s in at.selectbox if s.label == "Metric").set_value("auroc").run()  # not stored: computed
    assert (rows(specs(at)[0], "low")["low"] != 0.123).all()


def test_a_cell_level_split_is_named_beside_the_verdicts(tmp_path: Path, monkeypatch) -> None:
    run = write_run(tmp_path, split="cell")
    monkeypatch.setenv("MITOVIZ_HOME", str(tmp_path))
    at = page(tmp_path, "views/curves.py", run.run_id)
    ok(at)
    assert any("splits cells, not slides" in c.value for c in at.caption)


def test_a_run_from_the_runner_opens_on_its_stored_tables(results_home, monkeypatch) -> None:
    """The session's real run (tests/conftest.py): the runner stored the tables and the page shows them."""
    home, run_id = results_home
    run = ResultsStore(home / "results").get(run_id)
    saved = trust.stored(run, run.fits())
    assert saved is not None and set(saved.points["metric"]) == set(stats.INTERVAL_METRICS)
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = page(home, "views/curves.py", run_id)
    ok(at)
    shown = rows(specs(at)[0], "low").set_index(["label", "budget"])[["low", "high"]].sort_index()
    expected = saved.where(metric="balanced_accuracy", protocol="pooled", test_axis="all").points
    pd.testing.assert_frame_equal(
        shown, expected.set_index(["label", "budget"])[["low", "high"]].sort_index(), check_dtype=False
    )
    assert shown["low"].between(0, 1).all() and shown["high"].between(0, 1).all()
    assert any(" at 5/class: " in m.value for m in at.markdown)
