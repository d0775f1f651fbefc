import pytest

from mitoviz.data.splits import Budget
from mitoviz.errors import SpecError
from mitoviz.experiment.spec import PRESETS, ExperimentSpec, parse_protocol

TOML = """
name = "my comparison"
datasets = ["mitoviz-demo"]
encoders = ["handcrafted", "random-vits16"]
classifiers = ["logreg", "knn"]
budgets = [5, "50", "10%"]
seeds = [1, 2]
split = "cell"
protocols = ["pooled", "cross:scanner", "lodo:tumor_type"]
patch_size = 128

[e2e]
arch = "resnet18"
epochs = 3
"""


def test_toml_round_trip(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(TOML)
    spec = ExperimentSpec.from_toml(path)
    assert spec.budgets == (Budget("per_class", 5), Budget("per_class", 50), Budget("fraction", 0.1))
    assert spec.e2e.arch == "resnet18" and spec.e2e.epochs == 3 and spec.e2e.lr == 1e-4
    assert spec.protocols == ("pooled", "cross:scanner", "lodo:tumor_type")
    again = ExperimentSpec.from_dict(spec.to_dict())
    assert again == spec and again.spec_hash() == spec.spec_hash()
    assert spec.with_changes(name="other").spec_hash() == spec.spec_hash()
    assert spec.with_changes(seeds=(1,)).spec_hash() != spec.spec_hash()


def test_presets_follow_the_published_protocols():
    ganz = PRESETS["ganz2025"]
    assert [b.value for b in ganz.budgets] == [0.001, 0.01, 0.1, 1.0]
    assert ganz.seeds == (42, 43, 44, 45, 46) and ganz.split == "fmc"
    amibr = PRESETS["amibr-benchmark"]
    assert amibr.folds == 5 and amibr.seeds == (42,) and amibr.test_datasets == ("atnorm-br", "atnorm-md")
    assert amibr.split == "predefined"
    nielsen = PRESETS["nielsen2023"]
    assert [int(b.value) for b in nielsen.budgets] == [1, 5, 10, 25, 50, 100, 250, 500, 1000]
    assert nielsen.on_budget_overflow == "cap"
    custom = ExperimentSpec.from_dict({"preset": "ganz2025", "datasets": ["ccmct"], "name": "x"})
    assert custom.datasets == ("ccmct",) and custom.budgets == ganz.budgets


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"datasets": []}, "names no data set"),
        ({"budgets": []}, "no label budgets"),
        ({"split": "random"}, "Unknown split mode"),
        ({"protocols": ["cross:no such thing!"]}, "Unknown protocol"),
        ({"seeds": [1.5]}, "1.5 is not a whole number"),
        ({"seeds": 3.5}, "not a whole number"),
        ({"e2e": "yes"}, "`e2e` must be a table"),
        ({"e2e": {"epochs": 0}}, "`e2e.epochs` must be ≥ 1"),
        ({"e2e": {"colour": 1}}, r"Unknown \[e2e\] field"),
        ({"classifier_params": {"logreg": 3}, "classifiers": ["logreg"]}, "must be a table"),
        ({"classifier_params": {"logreg": {"C": 1}}, "classifiers": ["knn"]}, "which is not in classifiers"),
        ({"classifier_params": {"knn": {"depth": 3}}, "classifiers": ["knn"]}, "has no parameter"),
        ({"datasets": "midogpp", "encoders": [3]}, "must list names"),
        ({"strict": "yes"}, "must be true or false"),
        ({"missing_images": "ignore"}, "must be one of error, drop"),
        ({"test_datasets": ["d"]}, "both training data sets and external test sets"),
        ({"folds": 5, "seeds": [1, 2]}, "exactly one seed"),
        ({"folds": 5, "split": "fmc", "seeds": [1]}, "do not combine"),
        ({"test_fraction": 2}, "between"),
        ({"protocols": ["everything"]}, "Unknown protocol"),
        ({"encoders": ["a", "a"]}, "lists a name twice"),
        ({"budgets": ["lots"]}, "Cannot read the budget"),
        ({"colour": "red"}, "Unknown experiment field"),
        ({"e2e": {"arch": "vgg16"}}, "Unknown end-to-end architecture"),
        ({"preset": "nope"}, "Unknown experiment preset"),
        ({"seeds": ["x"]}, "bad value"),
    ],
)
def test_bad_specs_say_what_is_wrong(change, message):
    data = {"name": "x", "datasets": ["d"], "encoders": ["e"], "budgets": [5], **change}
    with pytest.raises(SpecError, match=message):
        ExperimentSpec.from_dict(data)


def test_missing_or_broken_toml(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        ExperimentSpec.from_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(SpecError, match="not valid TOML"):
        ExperimentSpec.from_toml(bad)


def test_protocol_parsing():
    assert parse_protocol("pooled") == ("pooled", None)
    assert parse_protocol("lodo:scanner") == ("lodo", "scanner")
    assert parse_protocol("cross:source") == ("cross", "source")
    with pytest.raises(SpecError):
        parse_protocol("pooled:scanner")
