"""Everything a finished run stores so its result pages open at once: intervals and paired comparisons
(:mod:`mitoviz.report.trust`) and the domain page's opening views (:mod:`mitoviz.report.domain_trust`)."""

from __future__ import annotations

from collections.abc import Sequence

from mitoviz.evaluate import stats
from mitoviz.report.domain_trust import precompute_domains
from mitoviz.report.trust import CellInfo, Trust, precompute_facets
from mitoviz.results import Run


def precompute(run: Run, metrics: Sequence[str] = stats.INTERVAL_METRICS, confidence: float = 0.95) -> Trust:
    """Bootstrap the curves page's facets and the domain page's opening views of ``run`` and store them in it."""
    trust = precompute_facets(run, metrics, confidence=confidence)
    info = CellInfo.of(run.cells(), run.manifest().get("positive_label", "mitotic figure"))
    precompute_domains(run, info, metrics, confidence)
    return trust
