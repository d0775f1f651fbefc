"""The terminal: progress bars (one per stage, a new one each time a stage counts again) and listings."""

from __future__ import annotations

import argparse
import json

import pytest

from mitoviz.cli import BarReporter, build_parser, main


def test_a_stage_that_counts_again_gets_a_bar_each_time(capsys) -> None:
    bars = BarReporter()
    bars.update("train e2e-small-cnn", 0, 3, "batches")  # announced before it starts: no bar yet
    for _fit in range(3):  # the trainer counts each fit's batches from 0
        for done in range(4):
            bars.update("train e2e-small-cnn", done, 3, "batches")
    bars.close()
    finished = [line for line in capsys.readouterr().err.split("\r") if "3/3" in line]
    assert len(finished) >= 3  # every fit's bar reaches its end (a closed bar used to swallow later fits)


def test_datasets_json_gives_each_preset_with_its_licence_and_where_it_is(capsys) -> None:
    assert main(["datasets", "--json"]) == 0
    listed = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    midogpp = listed["midogpp"]
    assert midogpp["licence"] and midogpp["citation"] and midogpp["found"] is False and midogpp["how_to_get"]


def test_every_help_is_plain_text_that_fits_100_columns(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for args in (["--help"], *([name, "--help"] for name in commands)):
        with pytest.raises(SystemExit):
            main(args)
        text = capsys.readouterr().out
        assert "``" not in text and max(len(line) for line in text.splitlines()) <= 100, (args, text)
