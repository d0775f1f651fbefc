"""In a real browser: the curves page of a finished demo-like run shows intervals and a paired comparison, its
legend and toolbar stay clear of everything else, and the domain page draws; screenshots for people to see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, shot, wait_idle
from tests.report.runs import write_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def trust_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    home = tmp_path_factory.mktemp("trust-e2e")
    run = write_run(home, name="Synthetic demo")
    srv = Server(home)
    srv.start()
    yield srv, run.run_id
    srv.stop()


def _open(page, url: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 2800})  # Streamlit scrolls its main area: show it all
    page.goto(url)
    wait_idle(page)
    page.wait_for_selector("[data-testid='stVegaLiteChart']", timeout=60_000)
    page.wait_for_timeout(1500)  # charts draw after the script ends
    assert "Traceback" not in page.inner_text("body")


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None
    return box


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def _inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


def test_curves_page_shows_intervals_and_a_paired_comparison(trust_server, page) -> None:
    server, run_id = trust_server
    _open(page, f"{server.url}/curves?run={run_id}")
    body = page.inner_text("body")
    assert "hierarchical bootstrap intervals" in body and "Which differences are real" in body
    assert " at 32/class: " in body and ("real (interval excludes 0)" in body or "could be chance" in body)
    assert "Labels needed" in body and "Synthetic demo data" in body
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    chart.hover()
    page.wait_for_timeout(500)
    toolbar = page.locator("[data-testid='stElementToolbar']").first
    if toolbar.count() and toolbar.is_visible():
        for select in page.locator("[data-testid='stSelectbox']").all()[:4]:
            assert not _overlap(_box(toolbar), _box(select)), "the chart toolbar covers a control"
    shot(page, "trust-01-curves")


def test_facets_keep_the_legend_inside_the_chart(trust_server, page) -> None:
    server, run_id = trust_server
    _open(page, f"{server.url}/curves?run={run_id}")
    page.locator("[data-testid='stSelectbox']").filter(has_text="Split test results by").click()
    page.get_by_role("option", name="scanner").click()
    wait_idle(page)
    page.wait_for_timeout(1500)
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    frame = _box(chart)
    assert frame["x"] + frame["width"] <= page.viewport_size["width"]
    for legend in chart.locator(".role-legend").all():
        assert _inside(_box(legend), frame), "a legend is cut off"
    shot(page, "trust-02-curves-by-scanner")


def test_matrix_of_all_methods(trust_server, page) -> None:
    server, run_id = trust_server
    _open(page, f"{server.url}/curves?run={run_id}")
    heading = page.get_by_text("All methods at 32/class")
    heading.scroll_into_view_if_needed()
    assert "Holm's correction" in page.inner_text("body")
    grid = page.locator("[data-testid='stVegaLiteChart']").nth(2)
    assert _box(grid)["height"] > 200  # laid out at its own size, four rows of cells
    shot(page, "trust-03-curves-matrix")


def test_domain_page_with_intervals(trust_server, page) -> None:
    server, run_id = trust_server
    _open(page, f"{server.url}/domains?run={run_id}")
    body = page.inner_text("body")
    assert "In-domain vs out-of-domain" in body and "hierarchical bootstrap" in body
    shot(page, "trust-04-domains")
    page.locator("[data-testid='stSelectbox']").filter(has_text="Trained").click()
    page.get_by_role("option", name="on all domains (pooled)").click()
    wait_idle(page)
    page.wait_for_timeout(1500)
    assert "external" in page.inner_text("body")
    shot(page, "trust-05-domains-external")
