"""Tables the result pages show, computed from a run's fits, metrics, predictions and cells.

Pure pandas (no Streamlit), tested without the UI. Every function treats all kinds of method alike
(probe, lora, finetune, e2e) and takes domain axes from the data, never assuming which exist.
Modules: ``names`` (display names), ``methods`` (labels, joins, selections), ``axes`` (axes present),
``curves`` (label curves), ``domains`` (domain shift, RI), ``cells`` (failure gallery), ``agreement``
(errors by rater agreement), ``maps`` (embedding maps and brushed selections), ``trust`` and
``domain_trust`` (bootstrap intervals), ``compare`` (paired comparisons), ``precompute`` (the tables a run stores
for its pages).
"""

from mitoviz.report.agreement import RATER_FILTERS, error_table, has_votes, level_counts, rater_mask
from mitoviz.report.axes import facet_axes, present_axes, protocol_axes, result_axes
from mitoviz.report.cells import (
    ERRORS,
    best_method,
    cell_predictions,
    disagreement_patterns,
    disagreements,
    misclassified,
    n_tested,
    pattern_cells,
)
from mitoviz.report.curves import curve_numbers, curves, degenerate_note, seed_summary, train_domains
from mitoviz.report.domains import (
    domain_drop,
    domain_matrix,
    lodo_matrix,
    lodo_table,
    robustness_scale,
    robustness_table,
)
from mitoviz.report.maps import (
    cell_rows,
    in_box,
    map_colours,
    map_correctness,
    map_fits,
    map_points,
    map_sample,
    page_of,
    selection_summary,
    stratified_order,
)
from mitoviz.report.methods import (
    FIT_KEYS,
    FROZEN,
    TRAINED,
    budget_order,
    joined,
    labelled,
    method_labels,
    protocol_order,
    select_fits,
    training,
)
from mitoviz.report.names import AXIS_NAMES, KIND_NAMES, METRICS, axis_name, ordered_axes

__all__ = [
    "AXIS_NAMES",
    "ERRORS",
    "FIT_KEYS",
    "FROZEN",
    "KIND_NAMES",
    "METRICS",
    "RATER_FILTERS",
    "TRAINED",
    "axis_name",
    "best_method",
    "budget_order",
    "cell_predictions",
    "cell_rows",
    "curve_numbers",
    "curves",
    "degenerate_note",
    "disagreement_patterns",
    "disagreements",
    "domain_drop",
    "domain_matrix",
    "error_table",
    "facet_axes",
    "has_votes",
    "in_box",
    "joined",
    "labelled",
    "level_counts",
    "lodo_matrix",
    "lodo_table",
    "map_colours",
    "map_correctness",
    "map_fits",
    "map_points",
    "map_sample",
    "method_labels",
    "misclassified",
    "n_tested",
    "ordered_axes",
    "page_of",
    "pattern_cells",
    "present_axes",
    "protocol_axes",
    "protocol_order",
    "rater_mask",
    "result_axes",
    "robustness_scale",
    "robustness_table",
    "seed_summary",
    "select_fits",
    "selection_summary",
    "stratified_order",
    "train_domains",
    "training",
]
