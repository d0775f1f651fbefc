"""Charts fit for slides: legends above, honest axes, rounded ticks, one palette colour per method, exports
that carry their title, run, metric and the synthetic mark."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mitoviz.ui.charts import curve_chart, dodged, drop_chart, heatmap, method_colours
from mitoviz.ui.export import SYNTHETIC_MARK, chart_svg, export_title
from mitoviz.ui.palette import CATEGORICAL

LABELS = ["e2e-resnet18 (end-to-end)", "uni", "uni+lora", "virchow2"]


def curve(domains: tuple[str, ...] = ("all",)) -> pd.DataFrame:
    rows = []
    for label in LABELS:
        for n in (4.0, 16.0, 2925.333333):
            for domain in domains:
                rows.append(
                    {
                        "label": label,
                        "budget": f"{n:g}",
                        "n_train": n,
                        "test_domain": domain,
                        "mean": 0.7,
                        "low": 0.6,
                        "high": 0.8,
                        "sd": 0.05,
                        "n_seeds": 3,
                        "n_test": 40.0,
                        "degenerate": 0.0,
                        "training": "trained" if "+" in label or "e2e" in label else "frozen",
                    }
                )
    return pd.DataFrame(rows)


def test_curve_chart_legend_ticks_and_colours() -> None:
    spec = curve_chart(curve(("Scanner A", "Scanner B", "Scanner C")), "balanced_accuracy", LABELS).to_dict()
    layer = spec["spec"]["layer"]
    colour = layer[1]["encoding"]["color"]
    assert colour["legend"]["orient"] == "top" and colour["scale"]["domain"] == LABELS
    dash = next(lay["encoding"]["strokeDash"] for lay in layer if "strokeDash" in lay.get("encoding", {}))
    assert dash["legend"]["orient"] == "bottom"  # beside the method legend, the pair overflowed the chart
    assert colour["scale"]["range"] == list(CATEGORICAL[:4])
    x_axis = layer[1]["encoding"]["x"]["axis"]
    assert x_axis["values"] == [4, 16, 2925] and x_axis["format"] == ",.0f"  # never 2.92533333333k
    assert layer[1]["encoding"]["y"]["scale"]["domain"] == [0.5, 1.0]  # from chance (the dotted line) to 1
    low = curve().assign(low=0.43)
    assert curve_chart(low, "auroc", LABELS).to_dict()["spec"]["layer"][1]["encoding"]["y"]["scale"][
        "domain"
    ] == [0.4, 1.0]
    assert curve_chart(low, "f1", LABELS).to_dict()["spec"]["layer"][1]["encoding"]["y"]["scale"][
        "domain"
    ] == [0.0, 1.0]
    assert layer[0]["encoding"]["y"]["field"] == "low" and layer[0]["encoding"]["y2"]["field"] == "high"
    assert spec["columns"] == 3


def test_one_colour_per_method_on_every_chart() -> None:
    """A method keeps its colour when another chart shows fewer methods (the run's labels set the order)."""
    full = method_colours(LABELS).to_dict()
    part = curve_chart(curve()[lambda d: d["label"] == "virchow2"], "auroc", LABELS).to_dict()
    scale = part["spec"]["layer"][1]["encoding"]["color"]["scale"]
    assert (
        dict(zip(scale["domain"], scale["range"], strict=True))["virchow2"]
        == dict(zip(full["domain"], full["range"], strict=True))["virchow2"]
    )


def test_methods_sit_apart_at_one_budget() -> None:
    data = curve()
    x = dodged(data, LABELS)
    at_four = x[data["n_train"] == 4.0]
    assert at_four.nunique() == 4 and np.allclose(np.exp(np.log(at_four).mean()), 4.0)


def test_drop_chart_axes_start_at_zero() -> None:
    drops = pd.DataFrame(
        {
            "label": ["uni", "virchow2"],
            "in_domain": [0.654, 0.65],
            "out_of_domain": [0.62, 0.64],
            "drop": [0.034, 0.01],
            "low": [0.01, -0.02],
            "high": [0.05, 0.03],
        }
    )
    spec = drop_chart(drops, "balanced_accuracy").to_dict()
    scores, drop = spec["hconcat"]
    assert scores["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0.0, 1.0]  # never 0.620–0.654
    assert drop["layer"][0]["encoding"]["x"]["scale"]["zero"] is True
    assert (
        spec["autosize"]["type"] == "pad"
    )  # Streamlit would otherwise squeeze labels and plot into one width


def test_heatmap_marks_in_domain_cells_and_prints_intervals() -> None:
    data = pd.DataFrame(
        {
            "label": "uni",
            "train_domain": ["A", "A", "B", "B"],
            "test_domain": ["A", "B", "A", "B"],
            "mean": [0.9, 0.7, 0.6, 0.85],
            "sd": 0.01,
            "n_seeds": 3,
            "in_domain": [True, False, False, True],
            "low": [0.85, 0.6, 0.5, 0.8],
            "high": [0.95, 0.8, 0.7, 0.9],
        }
    )
    spec = heatmap(data, "auroc").to_dict()
    layers = spec["spec"]["layer"]
    assert layers[0]["encoding"]["color"]["scale"]["domain"] == [0.5, 1]
    assert layers[-1]["encoding"]["text"]["field"] == "interval"
    table = next(iter(spec["datasets"].values()))
    assert [r["interval"] for r in table][:2] == ["[0.85, 0.95]", "[0.60, 0.80]"]


def test_exports_carry_title_run_metric_and_synthetic_mark() -> None:
    title = export_title(
        "Balanced accuracy against labelled cells",
        "Synthetic demo",
        "20260101-demo-abc123",
        "Balanced accuracy (pooled)",
        synthetic=True,
        notes=["Points: mean over seeds."],
    )
    assert (
        title.subtitle[0] == "run: Synthetic demo (20260101-demo-abc123)"
        and title.subtitle[-1] == SYNTHETIC_MARK
    )
    svg = chart_svg(curve_chart(curve(), "balanced_accuracy", LABELS), title)
    for text in (
        "Balanced accuracy against labelled cells",
        "20260101-demo-abc123",
        "metric: Balanced accuracy",
        "SYNTHETIC DEMO DATA",
    ):
        assert text in svg
    real = export_title("t", "r", "r", synthetic=False)
    assert SYNTHETIC_MARK not in real.subtitle and real.subtitle == ["run: r"]
