"""Which differences between methods are real: paired differences per budget and the all-pairs matrix.

Two methods at one point share seeds, splits and test cells, so their difference is taken per seed and
bootstrapped on the same redrawn seeds and slides (:mod:`mitoviz.report.trust`). :func:`paired` turns
a facet's bootstrap tables into one row per budget with the verdict text of
:meth:`mitoviz.evaluate.stats.PairedDifference.verdict`; :func:`compare` computes it straight from a
run's tables (the ``compare`` command); :func:`compare_lines` prints it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from mitoviz.data.cells import ALL
from mitoviz.errors import SpecError
from mitoviz.evaluate import stats
from mitoviz.report.methods import budget_order, labelled
from mitoviz.report.names import METRICS
from mitoviz.report.trust import ALPHA, CellInfo, Trust, facet_trust, stored
from mitoviz.results import Run

CONFIDENCE = 0.95
PAIRED_COLUMNS = [
    "protocol",
    "train_domain",
    "test_axis",
    "test_domain",
    "metric",
    "a",
    "b",
    "budget",
    "n_train",
    "difference",
    "low",
    "high",
    "p_value",
    "real",
    "seeds",
    "per_seed",
    "verdict",
]
_DERIVED = ("n_train", "real", "seeds", "per_seed", "verdict")
_FROM_PAIRS = [c for c in PAIRED_COLUMNS if c not in _DERIVED]
REAL, CHANCE, NOT_COMPARED = (
    "real (interval excludes 0)",
    "could be chance (interval includes 0)",
    "not compared",
)


def _number(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.3f}".replace("-", "−")


def _digits(*bounds: float) -> int:
    """Two decimals, or three where two would print a bound that is not 0 as 0.00 (a confusing verdict)."""
    return 3 if any(0 < abs(b) < 0.005 for b in bounds) else 2


def seed_differences(trust: Trust, metric: str, a: str, b: str, test_domain: str = ALL) -> pd.DataFrame:
    """A − B per seed at every budget where both were tested on that seed: budget, seed, difference."""
    rows = trust.seeds[(trust.seeds["metric"] == metric) & (trust.seeds["test_domain"] == test_domain)]
    wide = rows[rows["label"].isin([a, b])].pivot_table(
        index=["budget", "seed"], columns="label", values="value", aggfunc="first", dropna=False
    )
    if wide.empty or a not in wide or b not in wide:
        return pd.DataFrame(columns=["budget", "seed", "difference"])
    return (wide[a] - wide[b]).dropna().rename("difference").reset_index()


def paired(
    trust: Trust, fits: pd.DataFrame, metric: str, a: str, b: str, test_domain: str = ALL
) -> pd.DataFrame:
    """A − B at every budget of the facet ``trust`` holds (labels as the pages show them).

    ``real``: the interval excludes 0 (one planned comparison; the matrix corrects for many). A budget where
    the two were not tested on the same seeds (a run still in progress) is left out.
    """
    pairs = trust.pairs[
        (trust.pairs["metric"] == metric)
        & (trust.pairs["a"] == a)
        & (trust.pairs["b"] == b)
        & (trust.pairs["test_domain"] == test_domain)
    ]
    per_seed = seed_differences(trust, metric, a, b, test_domain)
    fits = labelled(fits)
    order = {budget: i for i, budget in enumerate(budget_order(fits))}
    rows = []
    for _, pair in pairs.iterrows():
        seeds = per_seed[per_seed["budget"] == pair["budget"]].sort_values("seed")
        difference = stats.PairedDifference(
            pair["difference"],
            pair["low"],
            pair["high"],
            seeds["difference"].to_numpy(),
            pair["p_value"],
            bool(pair["excludes_zero"]),
        )
        used = fits[
            (fits["label"].isin([a, b]))
            & (fits["budget"] == pair["budget"])
            & (fits["protocol"] == pair["protocol"])
            & (fits["train_domain"] == pair["train_domain"])
        ]
        rows.append(
            {
                **pair[_FROM_PAIRS].to_dict(),
                "n_train": float(used["n_train"].mean()),
                "real": difference.excludes_zero,
                "seeds": ", ".join(str(s) for s in seeds["seed"]),
                "per_seed": ", ".join(_number(v) for v in seeds["difference"]),
                "verdict": difference.verdict(a, b, str(pair["budget"]), _digits(pair["low"], pair["high"])),
            }
        )
    out = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    return out.sort_values("budget", key=lambda s: s.map(order)).reset_index(drop=True)


def best_two(points: pd.DataFrame, budget: str, test_domain: str = ALL) -> list[str]:
    """The two methods with the highest estimate at ``budget`` (fewer when fewer were tested)."""
    at = points[(points["budget"] == budget) & (points["test_domain"] == test_domain)]
    return (
        at.sort_values(["estimate", "label"], ascending=[False, True])["label"]
        .drop_duplicates()
        .head(2)
        .tolist()
    )


def matrix(trust: Trust, metric: str, budget: str, test_domain: str = ALL) -> pd.DataFrame:
    """Every ordered pair at one budget: row method − column method, with Holm-adjusted p-values."""
    pairs = trust.pairs
    keep = (pairs["metric"] == metric) & (pairs["budget"] == budget) & (pairs["test_domain"] == test_domain)
    return pairs[keep].reset_index(drop=True)


def matrix_statement(table: pd.DataFrame, confidence: float = CONFIDENCE) -> str:
    """:data:`stats.CORRECTION_STATEMENT` for a :func:`matrix` table."""
    m = int(table["comparisons"].max()) if len(table) else 0
    return stats.CORRECTION_STATEMENT.format(alpha=ALPHA, m=m, level=100 * confidence)


def resolve(fits: pd.DataFrame, name: str) -> str:
    """The display label of the method ``name`` (its id as the run names it, e.g. ``uni``, or its label)."""
    fits = labelled(fits)
    labels = sorted(set(fits["label"]))
    if name in labels:
        return name
    matches = sorted(set(fits.loc[fits["method"].astype(str) == name, "label"]))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SpecError(
            f"{name!r} names several methods in this run: {', '.join(matches)}.",
            "Give the full name of one of them.",
        )
    raise SpecError(f"This run has no method {name!r}.", f"Its methods: {', '.join(labels)}.")


def compare(
    fits: pd.DataFrame,
    predictions: pd.DataFrame,
    cells: pd.DataFrame,
    positive: str,
    a: str,
    b: str,
    *,
    metric: str = "balanced_accuracy",
    protocol: str = "pooled",
    train_domain: str = ALL,
    test_axis: str = ALL,
    test_domain: str = ALL,
    trust: Trust | None = None,
) -> pd.DataFrame:
    """A − B per budget from a run's fits, per-cell predictions (at least A's and B's) and cells.

    ``a``, ``b``: methods as the run names them (``uni``, ``e2e-resnet18``) or as the pages label them.
    The resamples are those the pages use for the facet (:func:`stats.resamples_for` its methods), so the
    numbers equal the curves page's. ``trust``: stored tables to read instead of bootstrapping.
    """
    if metric not in stats.METRIC_RANGE:
        raise SpecError(
            f"No paired comparison for {metric!r}.", f"Use one of {', '.join(stats.METRIC_RANGE)}."
        )
    fits = labelled(fits)
    la, lb = resolve(fits, a), resolve(fits, b)
    if la == lb:
        raise SpecError(f"{a!r} and {b!r} are the same method.", "Name two different methods.")
    facet = fits[(fits["protocol"] == protocol) & (fits["train_domain"] == train_domain)]
    if facet.empty:
        raise SpecError(
            f"This run has no fits for protocol {protocol!r} trained on {train_domain!r}.",
            f"Its protocols: {', '.join(sorted(set(fits['protocol'])))}.",
        )
    at = {"protocol": protocol, "train_domain": train_domain, "test_axis": test_axis}
    if trust is None or trust.where(**at, metric=metric, test_domain=test_domain).pairs.empty:
        n = stats.resamples_for(max(2, facet["label"].nunique()), ALPHA)
        trust = facet_trust(
            fits,
            predictions,
            CellInfo.of(cells, positive),
            [metric],
            protocol,
            train_domain,
            test_axis,
            test_domains=[test_domain],
            labels=[la, lb],
            n_resamples=n,
        )
    return paired(trust.where(**at), fits, metric, la, lb, test_domain)


def compare_run(run: Run, a: str, b: str, **options: str) -> pd.DataFrame:
    """:func:`compare` on a stored run, reading its stored bootstrap tables when fresh, else only A's and B's
    predictions (``options``: metric, protocol, train_domain, test_axis, test_domain)."""
    fits = labelled(run.fits())
    if fits.empty:
        raise SpecError(f"Run {run.run_id} has no finished fits yet.", "Wait for its first part to finish.")
    ids = fits.loc[fits["label"].isin([resolve(fits, a), resolve(fits, b)]), "fit_id"].tolist()
    positive = run.manifest().get("positive_label", "mitotic figure")
    return compare(
        fits, run.predictions(fit_ids=ids), run.cells(), positive, a, b, trust=stored(run, fits), **options
    )


def compare_lines(table: pd.DataFrame, confidence: float = CONFIDENCE) -> list[str]:
    """The text form of a :func:`compare` table: a heading, a verdict per budget, what the interval means."""
    if table.empty:
        return ["No budget where both methods were tested on the same seeds."]
    first = table.iloc[0]
    where = f"{first['protocol']}, trained on {first['train_domain']}, tested on {first['test_domain']}"
    lines = [
        f"{first['a']} − {first['b']}: {METRICS.get(first['metric'], first['metric'])} ({where}); "
        f"{100 * confidence:g} % intervals"
    ]
    width = max(len(v) for v in table["verdict"])
    for _, row in table.iterrows():
        lines.append(
            f"  {row['verdict']:<{width}}  {REAL if row['real'] else CHANCE}; per seed: {row['per_seed']}"
        )
    lines.append(stats.PAIRED_STATEMENT)
    return lines


PAIRED_NAMES = {
    "a": "A",
    "b": "B",
    "budget": "budget",
    "n_train": "labelled cells",
    "test_domain": "tested on",
    "difference": "difference (A − B)",
    "low": "95 % interval low",
    "high": "95 % interval high",
    "p_value": "bootstrap p",
    "real": "real (interval excludes 0)",
    "seeds": "seeds",
    "per_seed": "difference per seed",
    "verdict": "verdict",
}
MATRIX_NAMES = {
    "a": "method",
    "b": "minus method",
    "budget": "budget",
    "test_domain": "tested on",
    "difference": "difference",
    "low": "95 % interval low",
    "high": "95 % interval high",
    "p_value": "bootstrap p",
    "p_holm": "Holm-adjusted p",
    "real": "real after Holm's correction",
}


def paired_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`paired` table with readable column names (what the page shows and exports)."""
    return table.reindex(columns=list(PAIRED_NAMES)).rename(columns=PAIRED_NAMES)


def matrix_numbers(table: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """A :func:`matrix` table, each pair once (in the order of ``labels``), with readable column names."""
    rank = {label: i for i, label in enumerate(labels)}
    once = table[table["a"].map(rank) < table["b"].map(rank)]
    return once.reindex(columns=list(MATRIX_NAMES)).rename(columns=MATRIX_NAMES).reset_index(drop=True)
