"""In a real browser: the home page asks before an identical demo rerun, a partial run's banner grows as parts land
(without a reload), and New benchmark warns with the cost breakdown when an estimate exceeds an hour.
Screenshots under test-output/screenshots/start-*.png."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mitoviz.experiment.spec import PRESETS
from mitoviz.results import Run
from mitoviz.results.owner import process_started
from mitoviz.ui import pages
from tests.e2e.conftest import Server, shot, wait_idle
from tests.report.runs import write_run

pytestmark = pytest.mark.e2e
DEMO = PRESETS["demo"]
LATE = ("uni+lora__head", "e2e-resnet18__end-to-end")  # parts of the partial run that land during the test


def _manifest(run: Run, **fields: object) -> None:
    path = run.root / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory, small_demo: Path) -> Iterator[tuple[Server, dict]]:
    """A home with the demo data on disk, a finished run of the demo preset and a run still going (owned by a
    live process; two of its four methods held back)."""
    home = tmp_path_factory.mktemp("start-e2e")
    shutil.copytree(small_demo.parent, home / "data" / "mitoviz-demo")
    demo = write_run(home, name=DEMO.name)
    _manifest(demo, spec_hash=DEMO.spec_hash(), seconds=140.0)
    partial = write_run(home, name="Growing run")
    held = home / "held-back"
    held.mkdir()
    for part in LATE:
        shutil.move(partial.root / "fits" / f"{part}.parquet", held / f"{part}.parquet")
    owner = subprocess.Popen(["sleep", "600"])
    _manifest(partial, status="running", n_fits_planned=108, n_fits_done=54, heartbeat=time.time(),
              owner={"pid": owner.pid, "host": socket.gethostname(), "started": process_started(owner.pid)})
    srv = Server(home)
    srv.start()
    yield srv, {"demo": demo, "partial": partial, "held": held}
    srv.stop()
    owner.kill()
    owner.wait()


def _goto(server: Server, page, spec: pages.PageSpec, **params: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 2200})  # Streamlit scrolls its main area: show it all
    query = "&".join(f"{k}={v}" for k, v in params.items())
    page.goto(f"{server.url}/{spec.url_path}" + (f"?{query}" if query else ""))
    wait_idle(page)


def test_home_opens_the_demo_results_and_asks_before_running_it_again(start_server, page):
    server, runs = start_server
    _goto(server, page, pages.HOME)
    page.get_by_role("button", name="Open the demo results").wait_for(timeout=30_000)
    assert "It took 2m 20s on this machine last time" in page.inner_text("body")
    page.get_by_role("button", name="Run the demo again").click()
    page.get_by_text("The demo already ran").wait_for(timeout=30_000)
    wait_idle(page)
    shot(page, "start-01-home-rerun-asks")
    assert "identical job" in page.inner_text("body")
    page.get_by_role("button", name="No, keep these results").click()
    page.get_by_text("The demo already ran").wait_for(state="detached", timeout=30_000)
    page.get_by_role("button", name="Open the demo results").click()
    page.wait_for_url(f"**/{pages.CURVES.url_path}?run={runs['demo'].run_id}", timeout=30_000)
    wait_idle(page)
    assert not list((server.home / "jobs").glob("worker-*.lock"))  # nothing was started


def _banner(page) -> str:
    return page.locator("[data-testid='stAlert']").filter(has_text="Partial run").inner_text()


def test_a_partial_run_says_so_and_grows_as_parts_land(start_server, page):
    server, runs = start_server
    partial: Run = runs["partial"]
    _manifest(partial, heartbeat=time.time())
    _goto(server, page, pages.CURVES, run=partial.run_id)
    page.wait_for_selector("[data-testid='stVegaLiteChart']", timeout=60_000)
    page.wait_for_timeout(1500)
    assert "Partial run: 54 of 108 fits landed; maps and robustness not computed yet" in _banner(page)
    assert "still going" in page.inner_text("[data-testid='stSidebar']")
    shot(page, "start-02-curves-partial")
    _manifest(partial, heartbeat=time.time())
    shutil.move(runs["held"] / f"{LATE[0]}.parquet", partial.root / "fits" / f"{LATE[0]}.parquet")
    page.wait_for_function("() => document.body.innerText.includes('81 of 108 fits landed')", timeout=30_000)
    wait_idle(page)
    page.wait_for_timeout(1500)
    shot(page, "start-03-curves-partial-grown")


def _choose(page, label: str, option: str) -> None:
    page.locator("[data-testid='stSelectbox']").filter(has_text=label).click()
    page.get_by_role("option", name=re.compile(re.escape(option))).click()
    wait_idle(page)


def test_new_benchmark_warns_with_the_cost_when_it_would_take_over_an_hour(start_server, page):
    server, _ = start_server
    _goto(server, page, pages.NEW)
    page.get_by_text("Cap budgets larger than a class").click()
    wait_idle(page)
    page.get_by_text("Estimated time").wait_for(timeout=60_000)
    assert "would take" not in page.inner_text("body")  # the CPU-sized CNN is the default
    _choose(page, "End-to-end CNN", "Published recipe")
    page.get_by_text("would take").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # the cost table draws on a canvas
    shot(page, "start-04-new-benchmark-over-an-hour")
    body = page.inner_text("body")
    assert "Where the time goes: train e2e-resnet50" in body and "CPU-sized CNN instead" in body
