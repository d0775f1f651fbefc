"""Home (the demo card: run, watch, open, ask before an identical rerun; recent runs as links) and New benchmark
(the CNN as a CPU-sized preset and as the published recipe, the over-an-hour warning, a plan checked once)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mitoviz.config import load_settings
from mitoviz.experiment.spec import PRESETS
from mitoviz.jobs import job_store
from mitoviz.ui import pages

ROOT = Path(__file__).resolve().parents[2]
DEMO = PRESETS["demo"]


def render(home: Path, page: pages.PageSpec, monkeypatch) -> AppTest:
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(page.path)
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def no_new_worker(home: Path) -> None:
    """A worker that is starting (its marker is fresh): submitting queues the job without spawning another."""
    (home / "jobs").mkdir(parents=True, exist_ok=True)
    (home / "jobs" / "worker-0.starting").touch()


@pytest.fixture
def demo_ran(results_home, mitoviz_home) -> str:
    """This test's home holding a complete run of the demo preset (the shared run, relabelled), 95 s long."""
    home, run_id = results_home
    shutil.copytree(home / "results" / run_id, mitoviz_home / "results" / run_id)
    path = mitoviz_home / "results" / run_id / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "spec_hash": DEMO.spec_hash(), "seconds": 95.0,
                                "name": DEMO.name}))
    return run_id


def test_a_fresh_home_offers_the_demo_and_says_how_long_it_takes(mitoviz_home, monkeypatch):
    at = render(mitoviz_home, pages.HOME, monkeypatch)
    assert [b.label for b in at.button] == ["Run the demo"]
    assert any(c.value.startswith(":material/timer: It takes about") for c in at.caption)
    assert any("No runs yet" in c.value for c in at.caption)


def test_after_the_demo_home_opens_its_results_and_links_recent_runs(demo_ran, mitoviz_home, monkeypatch):
    at = render(mitoviz_home, pages.HOME, monkeypatch)
    assert [b.label for b in at.button] == ["Open the demo results", "Run the demo again"]
    assert any("It took 1m 35s on this machine last time" in c.value for c in at.caption)
    (recent,) = [link for link in at.get("page_link") if link.proto.label.startswith(DEMO.name)]
    assert recent.proto.page == pages.CURVES.url_path and recent.proto.query_string == f"run={demo_ran}"
    ok(button(at, "Open the demo results").click().run())
    assert at.title[0].value == pages.CURVES.title and at.query_params["run"] == demo_ran


def test_running_the_demo_again_asks_first(demo_ran, mitoviz_home, monkeypatch):
    no_new_worker(mitoviz_home)
    at = render(mitoviz_home, pages.HOME, monkeypatch)
    ok(button(at, "Run the demo again").click().run())
    assert any("The demo already ran" in w.value and "identical job" in w.value for w in at.warning)
    ok(button(at, "No, keep these results").click().run())
    assert not at.warning and "Run the demo again" in [b.label for b in at.button]
    ok(button(at, "Run the demo again").click().run())
    ok(button(at, "Yes, run it again").click().run())
    store = job_store(load_settings())
    (job,) = store.list()
    store.close()
    assert job["spec_hash"] == DEMO.spec_hash() and at.title[0].value == pages.JOBS.title


def test_while_the_demo_runs_home_offers_to_watch_it(mitoviz_home, monkeypatch):
    store = job_store(load_settings())
    job, _ = store.submit(DEMO.to_dict(), DEMO.spec_hash(), DEMO.name)
    store.claim_next("slot0-pid1")
    store.update(job["id"], heartbeat=time.time() + 30, run_id="20260101-000000-demo-abcdef")
    store.close()
    at = render(mitoviz_home, pages.HOME, monkeypatch)
    assert [b.label for b in at.button] == ["Watch the demo run"]
    assert "Results so far" in [link.proto.label for link in at.get("page_link")]
    ok(button(at, "Watch the demo run").click().run())
    assert at.title[0].value == pages.JOBS.title and at.query_params["job"] == job["id"]


@pytest.fixture
def with_demo_data(mitoviz_home, small_demo) -> Path:
    shutil.copytree(small_demo.parent, mitoviz_home / "data" / "mitoviz-demo")
    return mitoviz_home


def cnn(at: AppTest, choice: str) -> AppTest:
    ok(next(s for s in at.selectbox if s.label == "End-to-end CNN").set_value(choice).run())
    return at


def test_new_benchmark_offers_both_cnns_and_warns_with_the_cost_over_an_hour(with_demo_data, monkeypatch):
    at = render(with_demo_data, pages.NEW, monkeypatch)
    ok(next(c for c in at.checkbox if c.label.startswith("Cap budgets")).check().run())
    assert next(s for s in at.selectbox if s.label == "End-to-end CNN").value == "cpu-cnn"
    assert not any("would take" in w.value for w in at.warning)
    cnn(at, "fmc-cnn")
    (warning,) = [w.value for w in at.warning if "would take" in w.value]
    assert "Where the time goes: train e2e-resnet50" in warning and "CPU-sized CNN" in warning
    costs = next(df.value for df in at.dataframe if "share" in df.value.columns)
    assert costs["part"].iloc[0] == "train e2e-resnet50" and costs["share"].iloc[0] > 0.5
    assert next(e for e in at.expander if e.label.startswith("Cost by part")).proto.expanded
    capped = [c.value for c in at.caption if "capped" in c.value]
    assert len(capped) == 1 and "24/class" in capped[0] and "64/class" in capped[0]  # one note, not one per budget, domain and seed


def test_new_benchmark_plans_once_per_spec(with_demo_data, monkeypatch):
    from mitoviz.experiment import plan

    calls = []
    real = plan.prepare
    monkeypatch.setattr(plan, "prepare", lambda *a, **k: calls.append(1) or real(*a, **k))
    at = render(with_demo_data, pages.NEW, monkeypatch)
    ok(next(t for t in at.text_input if t.label == "Name").set_value("planned once").run())
    first = len(calls)
    ok(at.run())
    ok(at.run())
    assert len(calls) == first  # reruns (a click anywhere, the jobs badge) reuse the plan
    ok(next(t for t in at.text_input if t.label == "Seeds").set_value("0, 1").run())
    assert len(calls) == first + 1
