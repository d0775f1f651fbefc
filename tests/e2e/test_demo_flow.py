"""From a fresh home folder: click the demo, survive a server restart, then look at every page."""

from __future__ import annotations

import os
import time

import pytest

from mitoviz.config import load_settings
from mitoviz.jobs import job_store
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


def test_home_lists_presets_and_their_status(server, page):
    page.goto(server.url)
    wait_idle(page)
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
    page.wait_for_timeout(1500)  # tables draw on a canvas
    body = page.inner_text("body")
    assert "One-click demo" in body and "Data sets found" in body and "Encoders ready" in body
    assert page.locator("[data-testid='stDataFrame']").count() == 2
    shot(page, "01-home")


@pytest.mark.timeout(DEMO_TIMEOUT_S + 120)
def test_demo_job_survives_a_server_restart_and_finishes(server, page):
    page.goto(server.url)
    wait_idle(page)
    page.get_by_role("button", name="Run the demo").click()
    page.wait_for_url("**/jobs?job=*", timeout=60_000)
    wait_idle(page)
    (job,) = _jobs(server.home)
    deadline = time.time() + 180
    while time.time() < deadline and not any(k.startswith("embed") for k in _jobs(server.home)[0]["stages"]):
        time.sleep(1)
    page.wait_for_timeout(2500)  # let the fragment redraw with the latest progress
    shot(page, "02-jobs-running")
    assert "Run the demo" not in page.inner_text("body")

    worker_pid = int((server.home / "jobs" / "worker-0.lock").read_text())
    server.stop()  # the worker was started detached: it must keep going
    assert _alive(worker_pid)
    server.start()
    page.goto(f"{server.url}/jobs?job={job['id']}")
    wait_idle(page)
    assert "Synthetic demo" in page.inner_text("body")
    assert _jobs(server.home)[0]["state"] in ("running", "done")

    page.goto("about:blank")  # nobody watching: the page's polling should not slow the job down
    deadline = time.time() + DEMO_TIMEOUT_S
    while time.time() < deadline:
        state = _jobs(server.home)[0]
        if state["state"] not in ("queued", "running"):
            break
        time.sleep(2)
    assert state["state"] == "done", state.get("error") or state["log"][-5:]
    assert state["worker"].endswith(f"pid{worker_pid}")  # the same worker, never restarted
    page.goto(f"{server.url}/jobs?job={job['id']}")
    wait_idle(page)
    page.wait_for_timeout(2000)
    shot(page, "03-jobs-done")


def _open(server, page, path: str, name: str):
    run_id = _jobs(server.home)[0]["run_id"]
    page.goto(f"{server.url}/{path}?run={run_id}")
    wait_idle(page)
    page.wait_for_selector("[data-testid='stVegaLiteChart'], [data-testid='stImage']", timeout=60_000)
    page.wait_for_timeout(1500)
    assert "Traceback" not in page.inner_text("body")
    return shot(page, name)


def test_curves_page_and_legend_isolation(server, page):
    _open(server, page, "curves", "04-curves")
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    legend = chart.locator("text=handcrafted").first
    if legend.count():
        legend.click()
        page.wait_for_timeout(800)
    shot(page, "05-curves-legend-click")
    body = page.inner_text("body")
    assert "Synthetic demo data" in body and "Data (CSV)" in body


def test_domain_shift_page(server, page):
    _open(server, page, "domains", "06-domains")
    body = page.inner_text("body")
    assert "In-domain vs out-of-domain" in body and "Robustness index" in body


def test_embedding_map_selection_shows_patches(server, page):
    _open(server, page, "embeddings", "07-embeddings")
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
    shot(page, "08-embeddings-selection")


def test_failure_gallery_with_context(server, page):
    _open(server, page, "failures", "09-failures")
    assert page.locator("[data-testid='stImage']").count() >= 4
    page.get_by_text("Show tissue context").first.click()
    wait_idle(page)
    page.wait_for_timeout(1500)
    shot(page, "10-failures-context")
    page.get_by_role("tab", name="Frozen encoders vs end-to-end CNN").click()
    page.wait_for_timeout(1000)
    shot(page, "11-failures-compare")


def test_new_benchmark_and_runs_pages(server, page):
    page.goto(f"{server.url}/new_benchmark")
    wait_idle(page)
    page.wait_for_timeout(1000)
    body = page.inner_text("body")
    assert "Estimated time" in body and "encoders need weights first" in body
    shot(page, "12-new-benchmark")
    page.goto(f"{server.url}/runs")
    wait_idle(page)
    page.get_by_role("button", name="Build bundle").click()
    page.wait_for_selector("text=Download", timeout=120_000)
    shot(page, "13-runs-bundle")
