"""Pages declared once, and runs complete or clearly partial: the head every results page shares (AppTest)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from mitoviz.data.splits import CELL_SPLIT_WARNING
from mitoviz.results import Run
from mitoviz.results.owner import this_process
from mitoviz.ui import pages
from mitoviz.ui.data import content_stamp, progress_note

ROOT = Path(__file__).resolve().parents[2]


def render(home: Path, page: pages.PageSpec, monkeypatch, **params: str) -> AppTest:
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(page.path)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def variant(results_home: tuple[Path, str], where: Path, keep: tuple[str, ...] | None = None, later: bool = True,
            **manifest: object) -> tuple[Path, Run]:
    """A copy of the shared finished run: only the fit parts named ``keep`` (all when None), without the maps,
    robustness and stored statistics unless ``later``, and with ``manifest`` merged into its manifest."""
    home, run_id = results_home
    shutil.copytree(home / "results" / run_id, where / "results" / run_id)
    run = Run(where / "results" / run_id)
    for part in (run.root / "fits").glob("*.parquet"):
        if keep is not None and part.stem not in keep:
            part.unlink()
    if not later:
        for table in run.root.glob("*.parquet"):
            if table.name != "cells.parquet":
                table.unlink()
    path = run.root / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **manifest}))
    return where, run


def _planned(home: Path) -> int:
    """Fits the shared demo run planned (probes, LoRA and CNN)."""
    (manifest,) = (home / "results").glob("*/manifest.json")
    return json.loads(manifest.read_text())["n_fits_planned"]


def running() -> dict:
    """Manifest fields of a run owned by a live process (this one), beating now."""
    return {"status": "running", "owner": this_process(), "heartbeat": time.time()}


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("error", "warning", "info", "success", "markdown", "caption")
                     for e in getattr(at, kind))


def test_every_page_is_declared_once_and_no_path_is_written_elsewhere():
    files = sorted(p.name for p in (ROOT / "views").glob("*.py"))
    assert sorted(p.file for p in pages.PAGES) == files
    assert len({p.url_path for p in pages.PAGES}) == len(pages.PAGES)
    assert [p for p in pages.PAGES if p.default] == [pages.HOME]
    assert {p.section for p in pages.RESULTS} == {"Results"} and pages.CURVES in pages.RESULTS
    written = re.compile(r"""["']views/\w+\.py["']""")
    sources = [ROOT / "app.py", *(ROOT / "views").glob("*.py"), *(ROOT / "mitoviz").rglob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in sources if p.name != "pages.py" and written.search(p.read_text())]
    assert offenders == []


@pytest.mark.parametrize("page", pages.PAGES, ids=lambda p: p.url_path or "home")
def test_every_declared_page_renders_in_the_navigation(page, mitoviz_home, monkeypatch):
    at = render(mitoviz_home, page, monkeypatch)
    assert at.sidebar.caption[0].value == "No jobs running"  # app.py ran around the page


def test_progress_note_says_what_landed_what_is_missing_and_how_to_finish():
    manifest = {"n_fits_planned": 480}
    assert progress_note("complete", manifest, 480, set()) is None
    note = progress_note("running", manifest, 212, set())
    assert note.kind == "info"
    assert "Partial run: 212 of 480 fits landed" in note.text and "maps and robustness not computed yet" in note.text
    note = progress_note("running", manifest, 480, {"projections"})
    assert "all 480 fits landed" in note.text and "computing robustness now" in note.text
    stopped = progress_note("interrupted", manifest, 212, {"projections", "robustness"})
    assert stopped.kind == "warning" and "This run was interrupted" in stopped.text and "--resume" in stopped.text
    failed = progress_note("failed", {**manifest, "error": "Disk full at /data."}, 3, set())
    assert "This run failed**: Disk full at /data." in failed.text and "Retry" in failed.text
    assert "This run was cancelled" in progress_note("cancelled", manifest, 3, set()).text


def test_content_stamp_changes_when_a_part_lands_not_with_the_heartbeat(results_home, tmp_path):
    _, run = variant(results_home, tmp_path, keep=("handcrafted__logreg",), later=False, **running())
    before = content_stamp(run)
    run.update_manifest(heartbeat=time.time() + 5)  # what the owner's heartbeat thread does every 10 s
    assert content_stamp(run) == before
    home, run_id = results_home
    shutil.copy(home / "results" / run_id / "fits" / "random-vits16__logreg.parquet", run.root / "fits")
    landed = content_stamp(run)
    assert landed != before and landed[0] == before[0] + 1
    run.update_manifest(status="complete")
    assert content_stamp(run) != landed


def test_a_partial_run_says_so_and_watches_for_new_parts(results_home, tmp_path, monkeypatch):
    home, run = variant(results_home, tmp_path, keep=("handcrafted__logreg",), later=False, **running())
    at = render(home, pages.CURVES, monkeypatch, run=run.run_id)
    (banner,) = [i.value for i in at.info if "Partial run" in i.value]
    assert f"16 of {_planned(home)} fits landed" in banner and "maps and robustness not computed yet" in banner
    assert any("still going" in c.value for c in at.sidebar.caption)  # the watcher fragment is on
    assert not [link for link in at.get("page_link") if "its job" in link.proto.label.lower()]  # none wrote it
    rows = [pa.ipc.open_stream(d.data.data).read_pandas() for d in at.get("vega_lite_chart")[0].proto.datasets]
    assert {label for t in rows if "label" in t for label in t["label"]} == {"handcrafted"}  # what landed is drawn


def test_a_finished_run_has_no_banner_and_no_watcher(results_home, monkeypatch):
    home, run_id = results_home
    at = render(home, pages.CURVES, monkeypatch, run=run_id)
    assert not any("Partial run" in i.value for i in at.info)
    assert not any("still going" in c.value for c in at.sidebar.caption)


def test_a_cancelled_run_says_what_happened_and_how_to_resume(results_home, tmp_path, monkeypatch):
    home, run = variant(results_home, tmp_path, keep=("handcrafted__logreg",), status="cancelled")
    at = render(home, pages.DOMAINS, monkeypatch, run=run.run_id)
    (warning,) = [w.value for w in at.warning if "cancelled" in w.value]
    assert f"16 of {_planned(home)} fits landed" in warning and "Retry its job" in warning


@pytest.mark.parametrize("page", pages.RESULTS, ids=lambda p: p.url_path)
def test_a_cell_level_split_shows_the_leakage_warning_on_every_results_page(page, results_home, tmp_path,
                                                                            monkeypatch):
    home, run_id = results_home
    spec = json.loads((home / "results" / run_id / "manifest.json").read_text())["spec"]
    where, run = variant(results_home, tmp_path, spec={**spec, "split": "cell"})
    at = render(where, page, monkeypatch, run=run.run_id)
    assert any(CELL_SPLIT_WARNING in w.value for w in at.warning)
    assert any("Synthetic demo data" in i.value for i in at.info)


def test_the_picker_opens_on_the_newest_complete_run_and_marks_the_others(results_home, tmp_path, monkeypatch):
    home, old_id = results_home
    where = tmp_path / "two"
    shutil.copytree(home / "results" / old_id, where / "results" / old_id)
    newer = f"99999999-999999-newer-{old_id[-6:]}"  # listed first: run ids sort by their time stamp
    shutil.copytree(home / "results" / old_id, where / "results" / newer)
    path = where / "results" / newer / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **running(), "n_fits_done": 16, "run_id": newer}))
    at = render(where, pages.CURVES, monkeypatch)
    picker = at.sidebar.selectbox[0]
    assert picker.value == old_id
    assert f"partial (16 of {_planned(home)} fits)" in picker.format_func(newer) and "partial" not in picker.format_func(old_id)
    assert at.query_params["run"] == old_id
