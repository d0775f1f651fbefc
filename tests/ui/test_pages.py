"""Every page through Streamlit's AppTest: widgets, empty and error states, charts with the right data."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from mitoviz.config import load_settings
from mitoviz.jobs import job_store
from mitoviz.ui import pages
from tests.conftest import kill_workers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(monkeypatch):
    def make(page: str, home: Path, **params: str) -> AppTest:
        monkeypatch.setenv("MITOVIZ_HOME", str(home))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page(page)
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


def _specs(at: AppTest) -> list[dict]:
    """Each chart's Vega-Lite spec, with the Arrow datasets Streamlit sends beside it under ``rows``."""
    out = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        spec["tables"] = [pa.ipc.open_stream(named.data.data).read_pandas() for named in chart.proto.datasets]
        out.append(spec)
    return out


def _rows(spec: dict, column: str = "u") -> list[dict]:
    """Rows of the chart's data table that has ``column`` (a chart may carry a small helper table too)."""
    return [row for table in spec["tables"] if column in table.columns for row in table.to_dict("records")]


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", [p.path for p in pages.RESULTS])
def test_result_pages_say_what_to_do_without_results(app, mitoviz_home, page):
    at = app(page, mitoviz_home)
    _no_exception(at)
    assert any("No results yet" in m.value for m in at.markdown)
    assert not at.get("vega_lite_chart")


def _shown_text(at: AppTest) -> str:
    """Everything a results page shows as text: prose, widget choices, table cells and chart data."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "subheader") for e in at.get(kind)]
    parts += [str(o) for kind in ("selectbox", "multiselect", "radio") for w in at.get(kind) for o in w.options]
    parts += [df.value.to_csv() for df in at.dataframe]
    parts += [table.to_csv() for spec in _specs(at) for table in spec["tables"]]
    return "\n".join(parts)


@pytest.mark.parametrize("page", [p.path for p in pages.RESULTS])
def test_every_results_page_shows_frozen_lora_and_cnn_methods(app, results_home, page):
    home, run_id = results_home
    at = app(page, home, run=run_id)
    _no_exception(at)
    text = _shown_text(at)
    for method in ("handcrafted", "random-vits16", "random-vits16+lora", "e2e-resnet18"):
        assert method in text, f"{page} never shows {method}"


def test_home_lists_presets_encoders_and_the_demo(app, mitoviz_home):
    at = app(pages.HOME.path, mitoviz_home)
    _no_exception(at)
    tables = [df.value for df in at.dataframe]
    datasets = next(t for t in tables if "data set" in t.columns)
    assert {"mitoviz-demo", "midogpp", "ccmct", "cmc", "amibr"} <= set(datasets["name"])
    assert (datasets.loc[datasets["name"] == "midogpp", "status"] == "not found").all()
    encoders = next(t for t in tables if "encoder" in t.columns)
    assert encoders.loc[encoders["name"] == "uni", "weights"].str.startswith("missing").all()
    assert encoders.loc[encoders["name"] == "handcrafted", "weights"].iloc[0] != ""
    assert any(b.label == "Run the demo" for b in at.button)


def test_curves_chart_carries_every_method_and_budget(app, results_home):
    home, run_id = results_home
    at = app(pages.CURVES.path, home, run=run_id)
    _no_exception(at)
    spec = _specs(at)[0]  # the curves; the paired comparison and the matrix follow
    rows = _rows(spec, "label")
    assert {r["label"] for r in rows} == {"handcrafted", "random-vits16", "random-vits16+lora", "e2e-resnet18 (end-to-end)"}
    assert {r["budget"] for r in rows} == {"2/class", "5/class"}
    assert all(0 <= r["mean"] <= 1 for r in rows) and all(r["n_seeds"] == 2 for r in rows)
    assert spec["spec"]["layer"][1]["encoding"]["x"]["scale"]["type"] == "log"
    at.selectbox[0].set_value("auroc").run()
    _no_exception(at)
    at.selectbox[3].set_value("scanner").run()
    facets = {r["test_domain"] for r in _rows(_specs(at)[0], "test_domain")}
    assert facets == {"Simulated scanner A", "Simulated scanner B", "Simulated scanner C"}
    assert [b.label for b in at.get("download_button")][:3] == ["Data (CSV)", "Chart (PNG)", "Chart (SVG)"]
    assert any("Synthetic demo data" in i.value for i in at.info)


def test_domain_page_shows_matrix_drop_and_robustness(app, results_home):
    home, run_id = results_home
    at = app(pages.DOMAINS.path, home, run=run_id)
    _no_exception(at)
    specs = _specs(at)
    (heat,) = [_rows(s, "train_domain") for s in specs if _rows(s, "train_domain")]
    handcrafted = [r for r in heat if r["label"] == "handcrafted"]
    assert {r["train_domain"] for r in handcrafted} == {"Simulated scanner A", "Simulated scanner B",
                                                         "Simulated scanner C"}
    assert len(handcrafted) == 9 and sum(r["in_domain"] for r in handcrafted) == 3
    assert {r["label"] for r in heat} == {"handcrafted", "random-vits16", "random-vits16+lora", "e2e-resnet18 (end-to-end)"}
    drop = [_rows(s, "drop") for s in specs if _rows(s, "drop")]
    assert drop and {r["label"] for r in drop[0]} >= {"handcrafted", "random-vits16"}
    ri = next(df.value for df in at.dataframe if "confounder" in df.value.columns)
    assert ri["RI"].between(0, 1).all()
    assert set(ri["confounder"]) == {"scanner", "tumor_type"}


def test_domain_page_without_cross_protocol_says_so(app, results_home, tmp_path):
    import shutil

    home, run_id = results_home
    copy = tmp_path / "home"
    shutil.copytree(home / "results", copy / "results")
    fits = copy / "results" / run_id / "fits"
    import pandas as pd

    for part in fits.glob("*.parquet"):
        frame = pd.read_parquet(part)
        frame["protocol"] = "pooled"
        frame.to_parquet(part)
    at = app(pages.DOMAINS.path, copy, run=run_id)
    _no_exception(at)
    assert any("no cross-domain protocol" in m.value for m in at.markdown)


def test_embedding_map_colours_and_selection(app, results_home):
    home, run_id = results_home
    at = app(pages.EMBEDDINGS.path, home, run=run_id)
    _no_exception(at)
    (spec,) = _specs(at)
    rows = _rows(spec)
    assert len(rows) == 80 and {"u", "v", "scanner", "truth"} <= set(rows[0])
    colour = next(s for s in at.selectbox if s.label == "Colour by")
    colour.set_value("correctness").run()
    _no_exception(at)
    values = {r["correctness"] for r in _rows(_specs(at)[0], "correctness")}
    assert values <= {"correct", "wrong", "not in the test set"} and "not in the test set" in values
    second = next(s for s in at.selectbox if s.label == "Side by side with")
    second.set_value("random-vits16").run()
    assert len(_specs(at)) == 2


def test_failure_gallery_shows_the_most_confidently_wrong_cells(app, results_home):
    home, run_id = results_home
    at = app(pages.FAILURES.path, home, run=run_id)
    _no_exception(at)
    caption = next(c.value for c in at.caption if "wrong of" in c.value)
    n_wrong = int(caption.split()[0])
    assert n_wrong > 0
    errors_tab, _, compare_tab = at.tabs  # the middle tab: errors by rater agreement (tests/ui/test_failures.py)
    assert len(errors_tab.get("image")) == min(12, n_wrong)
    probs = [df.value for df in errors_tab.dataframe]
    assert probs and all("call" in p.columns for p in probs)
    assert {p.columns[0] for p in probs} == {"method"} and all(len(p) == 4 for p in probs)  # 2 encoders + LoRA + CNN
    patterns = next((c.value for c in compare_tab.caption if "cells" in c.value), "")
    assert "frozen all wrong, trained right" in patterns or "trained wrong, frozen all right" in patterns
    at.toggle[0].set_value(True).run()
    _no_exception(at)
    assert len(at.tabs[0].get("image")) == min(12, n_wrong)
    error_kind = next(s for s in at.selectbox if s.label == "Error")
    error_kind.set_value(error_kind.options[1]).run()
    _no_exception(at)


def test_jobs_page_lists_controls_and_errors(app, mitoviz_home, monkeypatch):
    monkeypatch.setenv("MITOVIZ_HOME", str(mitoviz_home))
    at = app(pages.JOBS.path, mitoviz_home)
    assert any("No jobs" in m.value for m in at.markdown)
    store = job_store(load_settings())
    queued, _ = store.submit({"name": "waiting"}, "h1", "waiting")
    failed, _ = store.submit({"name": "broken"}, "h2", "broken")
    store.claim_next("w")
    store.claim_next("w")
    store.finish(failed["id"], "failed", {"what": "MIDOG.json is not valid JSON.", "fix": "Download it again."})
    store.update(queued["id"], state="queued", stages={"embed uni": {"done": 5, "total": 10, "unit": "cells",
                                                                       "rate": 2.5, "eta": 2, "order": 0}})
    store.close()
    at = app(pages.JOBS.path, mitoviz_home)
    _no_exception(at)
    assert any("MIDOG.json is not valid JSON." in e.value for e in at.error)
    assert any("5 / 10 cells" in p.proto.text for p in at.get("progress"))
    cancel = next(b for b in at.button if b.label == "Cancel")
    cancel.click().run()
    store = job_store(load_settings())
    assert store.get(queued["id"])["state"] == "cancelled"
    store.close()
    kill_workers(mitoviz_home)


def test_new_benchmark_checks_then_launches(app, mitoviz_home, small_demo, monkeypatch):
    at = app(pages.NEW.path, mitoviz_home)
    _no_exception(at)
    assert any("names no data set" in e.value for e in at.error)
    import shutil

    shutil.copytree(small_demo.parent, mitoviz_home / "data" / "mitoviz-demo")
    at = app(pages.NEW.path, mitoviz_home)
    _no_exception(at)
    assert any("Budget 24/class asks for 24 'mitotic figure' cells" in e.value for e in at.error)
    next(c for c in at.checkbox if c.label.startswith("Cap budgets")).check().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cells"] == "80" and metrics["Trained fits"] != "0" and "≈" in metrics["Estimated time"]
    budgets = next(s for s in at.selectbox if s.label == "Label budgets")
    budgets.set_value("Custom").run()
    next(t for t in at.text_input if t.label.startswith("Budgets")).set_value("2, lots").run()
    assert any("Cannot read the budget" in e.value for e in at.error)
    next(t for t in at.text_input if t.label.startswith("Budgets")).set_value("2, 4").run()
    monkeypatch.setenv("MITOVIZ_WORKERS", "1")
    next(b for b in at.button if b.label == "Launch").click().run()
    store = job_store(load_settings())
    jobs = store.list()
    store.close()
    assert len(jobs) == 1 and jobs[0]["spec"]["budgets"] == ["2/class", "4/class"]
    assert jobs[0]["spec"]["projection"] == "umap"  # the spec's defaults, not the demo preset's shortcuts
    kill_workers(mitoviz_home)


def test_runs_page_exports_and_imports_bundles(app, results_home, tmp_path):
    home, run_id = results_home
    at = app(pages.RUNS.path, home)
    _no_exception(at)
    table = at.dataframe[0].value
    assert run_id in set(table["run_id"])
    next(b for b in at.button if b.label == "Build bundle").click().run()
    _no_exception(at)
    assert any(b.label.startswith("Download") for b in at.get("download_button"))
    next(b for b in at.button if b.label == "Build bundle").click().run()
    assert [p.name for p in (home / "exports").iterdir()] == [f"{run_id}.mitoviz.zip"]  # rebuilt, not piled up

