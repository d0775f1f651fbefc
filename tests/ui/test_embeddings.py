"""The embedding page through AppTest: palette colours, maps of any method, a brushed selection's stratified pages."""

from __future__ import annotations

from mitoviz.results import ResultsStore
from mitoviz.ui.palette import GREY, VERDICT
from tests.ui.test_pages import _no_exception, _rows, _specs, app  # noqa: F401  (app: the shared page fixture)

PAGE = "views/embeddings.py"
EVERYWHERE = {"selection": {"brush": {"u": [-1e9, 1e9], "v": [-1e9, 1e9]}}}


def _summary(at) -> str:
    return next(c.value for c in at.caption if "cells selected" in c.value)


def test_a_brushed_selection_shows_stratified_counts_and_pages(app, results_home):  # noqa: F811
    home, run_id = results_home
    at = app(PAGE, home, run=run_id)
    _no_exception(at)
    assert any("Drag a rectangle" in c.value for c in at.caption)
    key = f"map-{next(s for s in at.selectbox if s.label == 'Features of').value}"
    at.session_state[key] = EVERYWHERE  # what a drag over the whole map sends back
    at.run()
    _no_exception(at)
    cells = ResultsStore(home / "results").get(run_id).cells()
    summary = _summary(at)
    n_pos, n_neg = (cells["label"] == "mitotic figure").sum(), (cells["label"] == "imposter").sum()
    assert summary.startswith(f"{len(cells)} cells selected: imposter {n_neg} · mitotic figure {n_pos}; scanner: ")
    for scanner, n in cells["scanner"].value_counts().items():
        assert f"{scanner} {n}" in summary
    assert f"showing 1–24 of {len(cells)} (page 1 of 4), stratified over label × scanner" in summary
    first = {c for img in at.get("image") for c in img.captions}
    assert len(at.get("image")) == 24
    assert {c.split(" · ")[0] for c in first} == {"mitotic figure", "imposter"}
    assert {c.split(" · ")[1] for c in first} == set(cells["scanner"])  # every scanner, not the first 24 rows'
    seen = [c for img in at.get("image") for c in img.captions]
    pages = at.get("pagination")
    assert len(pages) == 1
    for page in (2, 3, 4):
        at.session_state[key] = EVERYWHERE  # AppTest resends a chart's selection only when told
        at.get("pagination")[0].set_value(page).run()
        _no_exception(at)
        assert f"(page {page} of 4)" in _summary(at)
        seen += [c for img in at.get("image") for c in img.captions]
    assert len(seen) == len(cells)  # four pages show every selected cell once


def test_palette_colours_and_a_trained_methods_map(app, results_home):  # noqa: F811
    home, run_id = results_home
    maps = ResultsStore(home / "results").get(run_id).projections()
    assert set(maps["encoder"]) == {"handcrafted", "random-vits16", "e2e-resnet18", "random-vits16+lora"}  # tuned too
    at = app(PAGE, home, run=run_id)
    _no_exception(at)
    features = next(s for s in at.selectbox if s.label == "Features of")
    assert "e2e-resnet18 (end-to-end)" in features.options  # shown by its method label
    features.set_value("e2e-resnet18").run()
    colour = next(s for s in at.selectbox if s.label == "Colour by")
    colour.set_value("correctness").run()
    _no_exception(at)
    (spec,) = _specs(at)
    assert spec["title"]["text"].startswith("e2e-resnet18 (end-to-end)")
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == list(VERDICT) and scale["range"][-1] == GREY
    values = {r["correctness"] for r in _rows(spec, "correctness")}
    assert {"correct", "wrong", "not in the test set"} >= values and {"correct", "not in the test set"} <= values
    assert spec["encoding"]["color"]["legend"]["labelLimit"] == 0  # never cut
    colour.set_value("scanner").run()
    (spec,) = _specs(at)
    assert spec["encoding"]["color"]["scale"]["range"] == ["#0072B2", "#E69F00", "#009E73"]
    colour.set_value("agreement_level").run()
    (spec,) = _specs(at)
    assert {r["agreement_level"] for r in _rows(spec, "agreement_level")} == {"all agree", "split"}
