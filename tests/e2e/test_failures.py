"""The failure and embedding pages in a real browser on a finished demo-like run: the gallery, an enlarged
cell, the errors-by-agreement chart and a brushed map, each saved as a screenshot to look at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import SCREENSHOTS, Server, brush, shot, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def results_server(results_home) -> Iterator[tuple[Server, str]]:
    """A ``streamlit run`` on the session's finished run (shared with tests/ui)."""
    home, run_id = results_home
    server = Server(home)
    server.start()
    yield server, run_id
    server.stop()


def _open(page, server: Server, path: str, run_id: str) -> None:
    page.goto(f"{server.url}/{path}?run={run_id}")
    wait_idle(page)
    page.wait_for_selector("[data-testid='stImage'], [data-testid='stVegaLiteChart']", timeout=60_000)
    page.wait_for_timeout(1500)  # tables and charts draw on a canvas
    assert "Traceback" not in page.inner_text("body")


def test_gallery_enlarged_cell_and_agreement_chart(results_server, page):
    server, run_id = results_server
    _open(page, server, "failures", run_id)
    body = page.inner_text("body")
    assert "P(mitotic figure) > 0.5" in body and "Hatched: beyond the image edge" in body
    assert page.locator("[data-testid='stImage']").count() >= 4
    shot(page, "failures-gallery")

    page.get_by_role("button", name="Enlarge").first.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=30_000)
    wait_idle(page)
    page.wait_for_timeout(1500)
    assert dialog.locator("[data-testid='stImage']").count() == 2  # the cell large and its tissue context
    dialog.screenshot(path=str(SCREENSHOTS / "failures-enlarged.png"))
    text = dialog.inner_text()
    assert "the patch the models saw" in text and "tissue context" in text and "raters:" in text
    assert dialog.locator("[data-testid='stDataFrame']").count() == 2  # every method's answer, every fact
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=10_000)

    page.get_by_role("tab", name="Errors by rater agreement").click()
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    chart.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    assert "hierarchical bootstrap" in page.inner_text("body")
    shot(page, "failures-agreement")


def test_a_brushed_map_shows_a_stratified_page(results_server, page):
    server, run_id = results_server
    _open(page, server, "embeddings", run_id)
    brush(page, page.locator("[data-testid='stVegaLiteChart']").first, (0.1, 0.2), (0.9, 0.7))  # inside the plot
    page.wait_for_selector("text=cells selected", timeout=60_000)
    wait_idle(page)
    page.wait_for_timeout(1500)
    assert "stratified over label" in page.inner_text("body")
    assert page.locator("[data-testid='stImage']").count() > 0
    shot(page, "failures-brushed-map")
