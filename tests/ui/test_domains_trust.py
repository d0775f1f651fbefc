"""The domain page through AppTest: matrices for any domain axis, drops with intervals, external test sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from mitoviz.report.domain_trust import precompute_domains
from mitoviz.report.trust import CellInfo
from tests.report.runs import POSITIVE, write_run
from tests.ui.test_curves_trust import ok, page, rows, specs


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("domains-ui")
    write_run(home)
    return home


def test_scanner_matrix_and_drop_with_intervals(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = page(home, "views/domains.py")
    ok(at)
    heat, drop = specs(at)
    cells = rows(heat, "train_domain")
    assert len(cells) == 4 * 2 * 2 and cells["low"].between(0, 1).all() and cells["in_domain"].sum() == 8
    drops = rows(drop, "in_low")
    assert len(drops) == 4 and drops["low"].notna().all() and (drops["low"] <= drops["high"]).all()
    dumbbell = drop["hconcat"][0]["layer"][0]["encoding"]["x"]
    assert dumbbell["scale"]["domain"] == [0.0, 1.0]  # the scores' axis is the metric's whole range
    assert drop["hconcat"][1]["layer"][0]["encoding"]["x"]["scale"]["zero"] is True
    shown = next(d.value for d in at.dataframe if "drop 95 % low" in d.value.columns)
    assert "out-of-domain score" in shown.columns and "drop_sd" not in shown.columns
    assert not at.warning
    next(s for s in at.selectbox if s.label == "Label budget").set_value("2/class").run()
    assert any("predict one class for every test cell" in w.value for w in at.warning)  # the CNN's seed 0


def test_a_non_scanner_axis_and_external_test_sets(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    at = page(home, "views/domains.py")
    axis = next(s for s in at.selectbox if s.label == "Tested on each")
    assert set(axis.options) == {"scanner", "tumour type", "data set"}
    axis.set_value("tumor_type").run()
    ok(at)
    (heat,) = specs(at)  # no in- vs out-of-domain for another axis than the training one
    cells = rows(heat, "train_domain")
    assert set(cells["test_domain"]) == {"breast", "lymphoma"} and set(cells["train_domain"]) == {
        "Scanner A",
        "Scanner B",
    }
    assert cells["in_domain"].isna().all() and cells["high"].between(0, 1).all()
    assert any("In- vs out-of-domain needs" in c.value for c in at.caption)
    next(s for s in at.selectbox if s.label == "Trained").set_value("pooled").run()
    ok(at)
    assert next(s for s in at.selectbox if s.label == "Tested on each").value == "dataset"
    heat, drop = specs(at)
    cells = rows(heat, "train_domain")
    assert set(cells["test_domain"]) == {"own", "external"} and set(cells["train_domain"]) == {"all"}
    assert set(rows(drop, "in_low")["label"]) == set(cells["label"])


def test_the_page_reads_stored_domain_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = write_run(tmp_path)
    precompute_domains(run, CellInfo.of(run.cells(), POSITIVE), ("balanced_accuracy",))
    cells = run.table("trust_domain_cells")
    run.write_table("trust_domain_cells", cells.assign(low=0.321))  # a marker only the stored table has
    monkeypatch.setenv("MITOVIZ_HOME", str(tmp_path))
    at = page(tmp_path, "views/domains.py", run.run_id)
    ok(at)
    assert (rows(specs(at)[0], "train_domain")["low"] == 0.321).all()
    next(s for s in at.selectbox if s.label == "Tested on each").set_value("tumor_type").run()  # not stored
    assert (rows(specs(at)[0], "train_domain")["low"] != 0.321).all()
