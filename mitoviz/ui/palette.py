"""Colours every chart shares: a colour-blind-safe categorical palette and fixed colours for verdicts."""

from __future__ import annotations

from collections.abc import Sequence

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
CATEGORICAL = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
GREY = "#B0B0B0"  # "not in the test set", "no votes", anything that is not a category of its own
VERDICT = {"correct": "#009E73", "wrong": "#D55E00", "not in the test set": GREY}


def categorical(values: Sequence[str], neutral: Sequence[str] = ("not in the test set", "unknown", "no votes")
                ) -> tuple[list[str], list[str]]:
    """(domain, range) for an Altair colour scale: the palette in order, grey for the neutral values."""
    ordered = [v for v in values if v not in neutral] + [v for v in values if v in neutral]
    colours, i = [], 0
    for value in ordered:
        if value in neutral:
            colours.append(GREY)
        else:
            colours.append(CATEGORICAL[i % len(CATEGORICAL)])
            i += 1
    return ordered, colours
