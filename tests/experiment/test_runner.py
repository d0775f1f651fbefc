import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from mitoviz.errors import BudgetError, Cancelled, MitovizError, SpecError
from mitoviz.experiment.plan import plan_fits, prepare
from mitoviz.experiment.run import run_experiment
from mitoviz.experiment.spec import ExperimentSpec
from mitoviz.progress import RecordingReporter
from mitoviz.results import ResultsStore


def _spec(small_demo, **changes) -> ExperimentSpec:
    base = {
        "name": "small", "datasets": [str(small_demo)], "encoders": ["handcrafted"], "classifiers": ["logreg", "knn"],
        "budgets": [2, 5], "seeds": [0, 1], "protocols": ["pooled", "cross:scanner", "lodo:tumor_type"],
        "patch_size": 64, "projection": "pca", "on_budget_overflow": "cap",
    }
    return ExperimentSpec.from_dict({**base, **changes})


def test_plan_never_leaks_slides_and_respects_domains(small_demo, small_cells):
    fits, _ = plan_fits(small_cells, _spec(small_demo))
    assert len(fits) == 2 * 2 * (1 + 3 + 2)  # seeds × budgets × (pooled + 3 scanners + 2 tumour types)
    slides, scanner = small_cells["slide"].to_numpy(), small_cells["scanner"].to_numpy()
    tumour = small_cells["tumor_type"].to_numpy()
    for fit in fits:
        assert not set(slides[fit.train]) & set(slides[fit.test])
        if fit.protocol == "cross:scanner":
            assert set(scanner[fit.train]) == {fit.train_domain}
        if fit.protocol == "lodo:tumor_type":
            assert fit.train_domain.removeprefix("not ") not in set(tumour[fit.train])
    same = [f for f in fits if f.protocol == "pooled" and f.seed == 0]
    assert set(same[0].train) <= set(same[1].train)  # nested budgets


def test_impossible_experiments_fail_before_any_compute(small_demo, small_cells, settings):
    with pytest.raises(SpecError, match="Unknown encoder 'nope'"):
        prepare(_spec(small_demo, encoders=["nope"]), settings)
    with pytest.raises(SpecError, match="no weights here"):
        prepare(_spec(small_demo, encoders=["uni"]), settings)
    with pytest.raises(SpecError, match="Unknown classifier"):
        prepare(_spec(small_demo, classifiers=["forest"]), settings)
    with pytest.raises(BudgetError, match="Budget 500/class asks for"):
        prepare(_spec(small_demo, budgets=[500], on_budget_overflow="error"), settings)
    with pytest.raises(MitovizError, match="Unknown data set preset"):
        prepare(_spec(small_demo, datasets=["midog-2099"]), settings)
    one_class = small_cells.copy()
    one_class.loc[one_class["scanner"] == "Simulated scanner A", "label"] = "imposter"
    with pytest.raises(BudgetError, match=r"one class only.*Simulated scanner A"):
        plan_fits(one_class, _spec(small_demo, protocols=["cross:scanner"]))
    assert not ResultsStore(settings.results_dir).runs()


def test_run_writes_results_that_load_back_and_agree_with_sklearn(small_demo, settings):
    reporter = RecordingReporter()
    run = run_experiment(_spec(small_demo), settings, reporter)
    manifest = run.manifest()
    assert manifest["status"] == "complete" and manifest["synthetic"] and manifest["positive_label"] == "mitotic figure"
    fits, metrics, preds, cells = run.fits(), run.metrics(), run.predictions(), run.cells()
    assert len(fits) == 2 * 24 and set(fits["classifier"]) == {"logreg", "knn"}
    assert {"all", "scanner", "tumor_type"} <= set(metrics["test_axis"])
    # every stored metric is what sklearn computes from the stored per-cell predictions
    for _, row in metrics[metrics["test_axis"] == "all"].sample(10, random_state=0).iterrows():
        p = preds[preds["fit_id"] == row["fit_id"]]
        truth = (cells.loc[p["cell"], "label"] == "mitotic figure").to_numpy()
        assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, p["prob"] > 0.5), abs=1e-9)
        assert row["auroc"] == pytest.approx(roc_auc_score(truth, p["prob"]), abs=1e-9)
    maps = run.projections()
    assert set(maps["encoder"]) == {"handcrafted"} and len(maps) == len(cells)
    ri = run.table("robustness")
    assert set(ri["confounder"]) == {"scanner", "tumor_type"} and ri["value"].between(0, 1).all()  # species renames tumour
    assert any(stage.startswith("embed handcrafted") for stage, _, _ in reporter.updates)


def test_interrupted_run_resumes_without_redoing_parts(small_demo, settings):
    spec = _spec(small_demo, encoders=["handcrafted", "random-vits16"], classifiers=["logreg"],
                 protocols=["pooled"])
    with pytest.raises(Cancelled):
        run_experiment(spec, settings, RecordingReporter(cancel_after=18))  # after the 6 announced stages
    (partial,) = ResultsStore(settings.results_dir).runs()
    assert partial.manifest()["status"] == "cancelled"
    done_before = partial.done_parts()
    assert done_before == {"handcrafted__logreg"}
    resumed = run_experiment(spec, settings, RecordingReporter(), resume=True)
    assert resumed.run_id == partial.run_id and resumed.complete
    assert resumed.done_parts() == {"handcrafted__logreg", "random-vits16__logreg"}
    fresh = run_experiment(spec, settings.__class__(**{**settings.__dict__, "home": settings.home / "fresh"}))
    a = resumed.metrics().sort_values(["fit_id", "test_axis", "test_domain"]).reset_index(drop=True)
    b = fresh.metrics().sort_values(["fit_id", "test_axis", "test_domain"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, atol=1e-6)


def test_end_to_end_cnn_runs_under_the_same_splits(small_demo, settings):
    spec = _spec(small_demo, encoders=["handcrafted"], classifiers=["logreg"], protocols=["pooled"], seeds=[0],
                 e2e={"arch": "resnet18", "input_size": 16, "extent": 32, "epochs": 1, "samples_per_epoch": 16,
                      "batch_size": 8, "pretrained": "none"})
    run = run_experiment(spec, settings)
    fits = run.fits()
    e2e, probe = fits[fits["kind"] == "e2e"], fits[fits["kind"] == "probe"]
    assert len(e2e) == len(probe) == 2 and set(e2e["init"]) == {"random"}
    assert (e2e.sort_values("fit")["n_train"].to_numpy() == probe.sort_values("fit")["n_train"].to_numpy()).all()
    preds = run.predictions()
    by_fit = preds.groupby("fit_id")["cell"].apply(lambda c: tuple(sorted(c)))
    assert len(set(by_fit)) == 1  # same test cells for the CNN and the probe
    assert np.isfinite(preds["prob"]).all()


def test_probe_lora_and_cnn_share_fits_and_land_in_one_run(small_demo, settings):
    spec = _spec(small_demo, encoders=["handcrafted"], classifiers=["logreg"], protocols=["pooled"], seeds=[0],
                 budgets=[3, 5], trained=[{"preset": "fmc-lora", "encoder": "random-vits16", "epochs": 1,
                                        "samples_per_epoch": 16, "batch_size": 8, "patience": 0},
                                       {"preset": "cpu-cnn", "epochs": 1}])
    run = run_experiment(spec, settings)
    fits = run.fits().set_index("method")
    assert set(fits["kind"]) == {"probe", "lora", "e2e"}
    lora = fits.loc["random-vits16+lora"].iloc[0]
    assert 0 < lora["trainable_params"] < lora["total_params"] / 10 and lora["encoder"] == "random-vits16"
    assert fits.groupby("budget")["n_train"].nunique().eq(1).all()  # the same training cells for every method
    preds = run.predictions()
    assert preds.groupby("fit_id")["cell"].apply(lambda c: tuple(sorted(c))).nunique() == 1  # and test cells
    (adapter,) = (run.root / "training").glob("random-vits16_lora__fit*/model/adapter_model.safetensors")
    assert adapter.stat().st_size > 0  # kept for the mapped fit (largest budget) only
    assert len(list((run.root / "training").glob("*/model"))) == 2  # one LoRA adapter, one CNN
    assert not list((run.root / "training").glob("*/checkpoint"))  # landed fits need no checkpoint
    assert {"handcrafted", "random-vits16+lora", "e2e-small-cnn"} <= set(run.projections()["encoder"])


def test_embeddings_by_depth_are_methods_of_their_own(small_demo, settings):
    spec = _spec(small_demo, encoders=["random-vits16"], classifiers=["logreg"], protocols=["pooled"], seeds=[0],
                 budgets=[5], layers={"random-vits16": [3, 6]})
    plan = prepare(spec, settings)
    assert plan.blocks == {"random-vits16": [3, 6]} and plan.size()["probe_fits"] == 3 * len(plan.fits)
    run = run_experiment(spec, settings)
    fits = run.fits()
    assert set(fits["method"]) == {"random-vits16", "random-vits16@3", "random-vits16@6"}
    assert set(fits["encoder"]) == {"random-vits16"} and fits["embedding_key"].nunique() == 3
    assert {"random-vits16@3", "random-vits16@6"} <= set(run.projections()["encoder"])
    with pytest.raises(SpecError, match="block"):
        prepare(_spec(small_demo, encoders=["handcrafted"], layers={"handcrafted": [1]}), settings)
