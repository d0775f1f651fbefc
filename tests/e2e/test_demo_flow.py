"""From a fresh home folder: click the demo, watch every stage, see the first curves while it runs (partial banner),
survive a server restart, open the results when it is done, then look at every page."""

from __future__ import annotations

import os

import pytest

from mitoviz.config import load_settings
from mitoviz.jobs import job_store
from mitoviz.ui import pages
from tests.conftest import until
from tests.e2e.conftest import shot, wait_idle

pytestmark = pytest.mark.e2e
DEMO_TIMEOUT_S = 12 * 60


def _jobs(home):
    store = job_store(load_settings({"MITOVIZ_HOME": str(home)}))
    try:
        return store.list()
    finally:
        store.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _url(server, spec: pages.PageSpec, **params: str) -> str:
    return f"{server.url}/{spec.url_path}" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_home_lists_presets_and_their_status(server, page):
    page.goto(server.url)
    wait_idle(page)
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
    page.get_by_role("button", name="Run the demo").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # tables draw on a canvas
    body = page.inner_text("body")
    assert "One-click demo" in body and "Data sets found" in body and "Encoders ready" in body
    assert "It takes about" in body and "No runs yet" in body
    assert page.locator("[data-testid='stDataFrame']").count() == 2
    shot(page, "01-home")


@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT_S + 180)
def test_demo_from_a_fresh_home_shows_results_as_they_land_and_links_them_when_done(server, page):
    page.goto(server.url)
    wait_idle(page)
    page.get_by_role("button", name="Run the demo").click()
    page.wait_for_url(f"**/{pages.JOBS.url_path}?job=*", timeout=60_000)
    wait_idle(page)
    (job,) = _jobs(server.home)

    def planned():
        """the runner announced every stage"""
        stages = _jobs(server.home)[0]["stages"]
        return stages if "maps and robustness" in stages else None

    stages = sorted(until(planned, 180).items(), key=lambda kv: kv[1]["order"])
    page.wait_for_timeout(2500)  # the job list redraws every 1.5 s
    body = page.inner_text("body")
    assert [n for n, _ in stages if n in body] == [n for n, _ in stages]  # every stage listed, pending ones too
    assert "pending" in body and "Run the demo" not in body
    shot(page, "02-jobs-running")

    worker_pid = int((server.home / "jobs" / "worker-0.lock").read_text())
    server.stop()  # the worker was started detached: it must keep going
    assert _alive(worker_pid)
    server.start()

    def first_part():
        """a first part landed while the job runs"""
        record = _jobs(server.home)[0]
        run = record.get("run_id")
        return run if run and any((server.home / "results" / run / "fits").glob("*.parquet")) else None

    run_id = until(first_part, 300)
    assert _jobs(server.home)[0]["state"] == "running", "the demo ended before its first results could be seen"
    page.goto(_url(server, pages.CURVES, run=run_id))
    wait_idle(page)
    page.wait_for_selector("[data-testid='stVegaLiteChart']", timeout=60_000)
    page.wait_for_timeout(1500)
    body = page.inner_text("body")
    assert "Partial run:" in body and "Synthetic demo data" in body
    shot(page, "03-curves-partial")

    page.goto("about:blank")  # nobody watching: the page's polling should not slow the job down
    state = until(lambda: (j := _jobs(server.home)[0])["state"] not in ("queued", "running") and j, DEMO_TIMEOUT_S, 2)
    assert state["state"] == "done", state.get("error") or state["log"][-5:]
    assert state["worker"].endswith(f"pid{worker_pid}")  # the same worker, never restarted
    page.goto(_url(server, pages.JOBS, job=job["id"]))
    wait_idle(page)
    page.wait_for_timeout(2000)
    shot(page, "04-jobs-done")
    page.get_by_role("link", name="Open results").click()
    page.wait_for_url(f"**/{pages.CURVES.url_path}?run={run_id}", timeout=30_000)
    wait_idle(page)
    page.wait_for_selector("[data-testid='stVegaLiteChart']", timeout=60_000)
    assert "Partial run" not in page.inner_text("body")
    page.goto(server.url)
    wait_idle(page)
    page.get_by_role("button", name="Open the demo results").wait_for(timeout=60_000)
    shot(page, "05-home-after-the-demo")


def _open(server, page, spec: pages.PageSpec, name: str):
    page.goto(_url(server, spec, run=_jobs(server.home)[0]["run_id"]))
    wait_idle(page)
    page.wait_for_selector("[data-testid='stVegaLiteChart'], [data-testid='stImage']", timeout=60_000)
    page.wait_for_timeout(1500)
    assert "Traceback" not in page.inner_text("body")
    return shot(page, name)


def test_curves_page_and_legend_isolation(server, page):
    _open(server, page, pages.CURVES, "06-curves")
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    legend = chart.locator("text=handcrafted").first
    if legend.count():
        legend.click()
        page.wait_for_timeout(800)
    shot(page, "07-curves-legend-click")
    body = page.inner_text("body")
    assert "Synthetic demo data" in body and "Data (CSV)" in body


def test_domain_shift_page(server, page):
    _open(server, page, pages.DOMAINS, "08-domains")
    body = page.inner_text("body")
    assert "In-domain vs out-of-domain" in body and "Robustness index" in body


def test_embedding_map_selection_shows_patches(server, page):
    _open(server, page, pages.EMBEDDINGS, "09-embeddings")
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.8, steps=8)
    page.mouse.up()
    page.wait_for_selector("text=cells selected", timeout=60_000)
    wait_idle(page)
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid='stImage']").count() > 0
    shot(page, "10-embeddings-selection")


def test_failure_gallery_with_context(server, page):
    _open(server, page, pages.FAILURES, "11-failures")
    assert page.locator("[data-testid='stImage']").count() >= 4
    page.get_by_text("Show tissue context").first.click()
    wait_idle(page)
    page.wait_for_timeout(1500)
    shot(page, "12-failures-context")
    page.get_by_role("tab", name="Frozen vs trained methods").click()
    page.wait_for_timeout(1000)
    shot(page, "13-failures-compare")


def test_new_benchmark_and_runs_pages(server, page):
    page.goto(_url(server, pages.NEW))
    wait_idle(page)
    page.wait_for_timeout(1000)
    body = page.inner_text("body")
    assert "Estimated time" in body and "encoders need weights first" in body
    shot(page, "14-new-benchmark")
    page.goto(_url(server, pages.RUNS))
    wait_idle(page)
    page.get_by_role("button", name="Build bundle").click()
    page.wait_for_selector("text=Download", timeout=120_000)
    shot(page, "15-runs-bundle")
