"""The Jobs page: every stage from the start, the time left for the whole job, no stale ETA, results links, errors
with their fix (the stage lines as pure functions, then the page through AppTest)."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from mitoviz.config import load_settings
from mitoviz.jobs import job_store
from mitoviz.ui import pages
from mitoviz.ui.jobs import duration, job_title, observe, stage_views, time_left, where_it_is

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_000_000.0


def stage(order: int, done: int, total: int, unit: str = "", updated: float = NOW) -> dict:
    """A stage as the worker records it; its own rate and ETA count from the announcement, and are not read."""
    return {"order": order, "done": done, "total": total, "unit": unit, "rate": 0.001, "eta": 99_999.0,
            "updated": updated, "started": NOW - 600}


def announced(state: str = "running") -> dict:
    """A job whose runner announced every stage at 0 when it planned, now embedding."""
    return {"id": "j1", "state": state, "stages": {
        "load and plan": stage(0, 1, 1, updated=NOW - 60),
        "embed random-vits16": stage(1, 300, 895, "cells", updated=NOW - 5),
        "fit random-vits16 · logreg": stage(2, 0, 36, "fits"),
        "train e2e-small-cnn": stage(3, 0, 36, "fits"),
        "maps and robustness": stage(4, 0, 4, "encoders"),
    }}


RATES = {"embed random-vits16": 20.0}  # measured by the page: 595 cells left at 20 cells/s, last update 5 s ago


def test_a_running_job_lists_every_stage_in_order_with_the_current_one_measured():
    views = stage_views(announced(), NOW, RATES)
    assert [v.name for v in views] == ["load and plan", "embed random-vits16", "fit random-vits16 · logreg",
                                       "train e2e-small-cnn", "maps and robustness"]
    assert [v.status for v in views] == ["done", "current", "pending", "pending", "pending"]
    assert views[0].text == "1 / 1 · done"
    assert views[1].text == "300 / 895 cells · 20.0 cells/s · 24s left"  # counts down from its last update
    assert views[2].text == "0 / 36 fits · pending"
    assert time_left(views) == "at least 24s left · estimating the rest…"
    assert where_it_is(announced()) == "embed random-vits16 300/895"  # what `mitoviz jobs` prints
    assert where_it_is({"stages": {"load and plan": stage(0, 1, 1), "embed uni": stage(1, 0, 9)}}) == "load and plan 1/1"
    assert where_it_is({"stages": {}}) == ""
    job = {**announced(), "name": "Synthetic demo", "started": NOW - 75}
    assert job_title(job, views, NOW) == "Synthetic demo · running · 1m 15s · at least 24s left · estimating the rest… · job j1"


def test_time_left_sums_the_stages_when_all_are_measured_and_says_estimating_when_none_is():
    job = announced()
    for name in ("fit random-vits16 · logreg", "train e2e-small-cnn", "maps and robustness"):
        del job["stages"][name]
    assert time_left(stage_views(job, NOW, RATES)) == "about 24s left"
    assert time_left(stage_views(announced(), NOW)) == "estimating…"  # the record's own ETA is not trusted
    silent = announced()
    silent["stages"]["embed random-vits16"]["updated"] = NOW - 95
    assert "last progress 1m 35s ago" in stage_views(silent, NOW)[1].text  # a long part: alive, not stuck


def test_rates_count_from_the_first_progress_the_page_saw():
    samples: dict = {}
    job = announced()
    assert observe(samples, job) == {}  # one sight is not a rate; pending stages are not sampled
    assert list(samples) == [("j1", "embed random-vits16")]
    job["stages"]["embed random-vits16"].update(done=340, updated=NOW - 3)  # 40 cells in 2 s
    job["stages"]["fit random-vits16 · logreg"].update(done=1, updated=NOW - 3)  # announced 600 s ago: no rate yet
    assert observe(samples, job) == {"embed random-vits16": 20.0}
    job["stages"]["embed random-vits16"].update(done=10, updated=NOW)  # counted again from 0 (a new fit)
    assert "embed random-vits16" not in observe(samples, job) and samples[("j1", "embed random-vits16")] == (NOW, 10)


def test_a_stopped_job_keeps_its_counts_and_no_stale_eta():
    for state in ("cancelled", "failed", "interrupted"):
        views = stage_views(announced(state), NOW, RATES)
        assert [v.status for v in views] == ["done", "stopped", "not reached", "not reached", "not reached"]
        assert views[1].text == f"300 / 895 cells · stopped ({state})"
        assert not any("left" in v.text or "/s" in v.text for v in views)
        assert time_left(views) == ""


def test_durations_read_naturally():
    assert [duration(s) for s in (None, 0, 42, 185, 3720)] == ["–", "0s", "42s", "3m 05s", "1h 02m"]


def _page(home: Path, monkeypatch, **params: str) -> AppTest:
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(pages.JOBS.path)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_jobs_page_shows_stages_time_left_results_links_and_errors(mitoviz_home, monkeypatch):
    store = job_store(load_settings())
    done, _ = store.submit({"name": "finished"}, "h-done", "finished")
    failed, _ = store.submit({"name": "broken"}, "h-failed", "broken")
    live, _ = store.submit({"name": "live"}, "h-live", "live")
    for _ in range(3):
        store.claim_next("slot0-pid1")
    store.update(done["id"], run_id="20260101-000000-finished-abcdef")
    store.finish(done["id"], "done")
    store.finish(failed["id"], "failed", {"what": "MIDOG.json is not valid JSON.", "fix": "Download it again."})
    now = time.time()
    job = announced()
    for st_ in job["stages"].values():
        st_["updated"] += now - NOW
    store.update(live["id"], stages=job["stages"], run_id="20260101-000000-live-abcdef", heartbeat=now + 30)
    store.close()

    at = _page(mitoviz_home, monkeypatch)
    titles = [e.label for e in at.expander]
    assert titles[0].startswith("live · running") and "estimating…" in titles[0]  # no rate seen yet
    assert titles[1].startswith("broken · failed") and "left" not in titles[1]
    texts = [p.proto.text for p in at.get("progress")]
    assert [t.split("**")[1] for t in texts[:5]] == list(job["stages"])  # every stage, in run order
    assert "pending" in texts[2] and "300 / 895 cells · estimating…" in texts[1]
    links = {link.proto.label: link.proto.page for link in at.get("page_link")}
    assert links["Results so far"] == pages.CURVES.url_path and links["Open results"] == pages.CURVES.url_path
    assert any("MIDOG.json is not valid JSON." in e.value and "Download it again." in e.value for e in at.error)
    assert [b.label for b in at.button].count("Retry") == 1  # the failed job; the finished one has its results
