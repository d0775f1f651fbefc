"""Robustness Index on constructed embeddings whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mitoviz.errors import SpecError
from mitoviz.evaluate.robustness import RI_SCALE, RobustnessIndex, robustness_index


def _design(n_slides: int = 24, per_slide: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Cells on slides; each slide has one scanner (of 3) and cells of both classes."""
    rng = np.random.default_rng(seed)
    slide = np.repeat(np.arange(n_slides), per_slide)
    scanner = (np.arange(n_slides) % 3)[slide]
    label = rng.integers(0, 2, slide.size)
    return {"slide": slide, "scanner": scanner, "label": label, "rng": rng}


def _embed(
    d: dict, class_scale: float, scanner_scale: float, slide_scale: float = 0.0, dim: int = 32
) -> np.ndarray:
    rng = d["rng"]
    class_dirs = rng.standard_normal((2, dim))
    scanner_dirs = rng.standard_normal((3, dim))
    slide_dirs = rng.standard_normal((d["slide"].max() + 1, dim))
    noise = rng.standard_normal((d["slide"].size, dim))
    return (
        class_scale * class_dirs[d["label"]]
        + scanner_scale * scanner_dirs[d["scanner"]]
        + slide_scale * slide_dirs[d["slide"]]
        + noise
    )


def _brute_force(X, label, conf, group, k) -> tuple[int, int, int]:
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    sim = Xn @ Xn.T
    so = os_ = undefined = 0
    for i in range(len(X)):
        candidates = np.flatnonzero(group != group[i])
        nb = candidates[np.argsort(-sim[i, candidates], kind="stable")[:k]]
        a = int(((label[nb] == label[i]) & (conf[nb] != conf[i])).sum())
        b = int(((label[nb] != label[i]) & (conf[nb] == conf[i])).sum())
        so, os_, undefined = so + a, os_ + b, undefined + (a + b == 0)
    return so, os_, undefined


def test_class_dominated_embeddings_score_near_one() -> None:
    d = _design()
    ri = robustness_index(_embed(d, class_scale=6, scanner_scale=0.5), d["label"], d["scanner"], d["slide"])
    assert ri.value > 0.95
    assert ri.scale == RI_SCALE and ri.k == 10 and ri.n == d["slide"].size


def test_scanner_dominated_embeddings_score_near_zero() -> None:
    d = _design()
    ri = robustness_index(_embed(d, class_scale=0.5, scanner_scale=6), d["label"], d["scanner"], d["slide"])
    assert ri.value < 0.05


def test_unstructured_embeddings_score_at_chance() -> None:
    d = _design(n_slides=60)
    X = _embed(d, class_scale=0, scanner_scale=0)
    two = d["slide"] % 2  # slides alternate between two scanners: a balanced design
    balanced = robustness_index(X, d["label"], two, d["slide"])
    assert 0.45 < balanced.value < 0.6 and 0.5 < balanced.chance < 0.53
    three = robustness_index(X, d["label"], d["scanner"], d["slide"])
    assert three.chance == pytest.approx(2 / 3, abs=0.02)
    assert abs(three.value - three.chance) < 0.05


def test_neighbours_from_the_same_slide_are_excluded() -> None:
    """A strong slide signature puts a cell's own slide (same scanner, both classes) nearest.

    Counting those neighbours would make the scanner look dominant; excluded, the class
    structure across slides shows.
    """
    d = _design()
    X = _embed(d, class_scale=3, scanner_scale=0.3, slide_scale=12)
    with_groups = robustness_index(X, d["label"], d["scanner"], d["slide"])
    without = robustness_index(X, d["label"], d["scanner"], None)
    assert with_groups.value > 0.8
    assert without.value < 0.2


@pytest.mark.parametrize("chunk", [7, 512])
def test_counts_equal_a_brute_force_reference(chunk: int) -> None:
    d = _design(n_slides=12, per_slide=8, seed=3)
    X = _embed(d, class_scale=1.0, scanner_scale=1.0, slide_scale=0.5, dim=8)
    ri = robustness_index(X, d["label"], d["scanner"], d["slide"], k=5, chunk=chunk)
    so, os_, undefined = _brute_force(X, d["label"], d["scanner"], d["slide"], 5)
    assert (ri.so, ri.os) == (so, os_)
    assert ri.undefined_frac == pytest.approx(undefined / d["slide"].size)
    assert ri.value == pytest.approx(so / (so + os_))
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    label, conf, group = d["label"], d["scanner"], d["slide"]
    so_c = os_c = 0.0
    for i in range(len(X)):
        other = group != group[i]
        so_c += ((label == label[i]) & (conf != conf[i]) & other).sum() / other.sum()
        os_c += ((label != label[i]) & (conf == conf[i]) & other).sum() / other.sum()
    assert ri.chance == pytest.approx(so_c / (so_c + os_c))
    assert Xn.shape == X.shape


def test_labels_may_be_strings_and_result_is_a_row() -> None:
    d = _design(n_slides=9, per_slide=6)
    X = _embed(d, class_scale=4, scanner_scale=0.2)
    names = np.array(["imposter", "mitotic figure"])[d["label"]]
    scanners = np.array(["Aperio", "Hamamatsu", "Leica"])[d["scanner"]]
    ri = robustness_index(X, names, scanners, [f"slide-{s}" for s in d["slide"]], k=200)
    assert isinstance(ri, RobustnessIndex)
    row = {"encoder": "demo", **ri}
    assert set(row) == {"encoder", "value", "so", "os", "undefined_frac", "k", "n", "chance", "scale"}
    assert ri.k == d["slide"].size - 1  # k capped at the other cells


def test_undefined_when_no_neighbour_is_informative() -> None:
    # two scanners, one class per scanner: every neighbour is same class + same scanner
    # or other class + other scanner, which count as neither SO nor OS
    X = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    ri = robustness_index(X, [0, 0, 1, 1], ["a", "a", "b", "b"], [0, 1, 2, 3], k=1)
    assert ri.undefined_frac == 1.0 and math.isnan(ri.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confounder": np.zeros(20)}, "two confounder values"),
        ({"label": np.zeros(20)}, "two classes"),
        ({"label": np.zeros(5)}, "5 entries for 20"),
        ({"k": 0}, "k must be"),
        ({"X": np.full((20, 3), np.nan)}, "NaN"),
    ],
)
def test_bad_input_is_a_spec_error(kwargs: dict, match: str) -> None:
    rng = np.random.default_rng(0)
    args = {
        "X": rng.standard_normal((20, 3)),
        "label": np.arange(20) % 2,
        "confounder": np.arange(20) % 3,
        "group": np.arange(20) // 2,
    }
    args.update(kwargs)
    with pytest.raises(SpecError, match=match):
        robustness_index(**args)
