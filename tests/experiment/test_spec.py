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
    (cnn,) = spec.trained  # `[e2e]` is the end-to-end CNN from the published recipe
    assert cnn.kind == "e2e" and cnn.arch == "resnet18" and cnn.epochs == 3 and cnn.lr == 1e-4
    assert spec.protocols == ("pooled", "cross:scanner", "lodo:tumor_type")
    again = ExperimentSpec.from_dict(spec.to_dict())
    assert again == spec and again.spec_hash() == spec.spec_hash()
    assert spec.with_changes(name="other").spec_hash() == spec.spec_hash()
    assert spec.with_changes(seeds=(1,)).spec_hash() != spec.spec_hash()


def test_trained_methods_and_depths_round_trip():
    spec = ExperimentSpec.from_dict({"name": "x", "datasets": ["d"], "encoders": ["uni"], "budgets": [5],
                                     "layers": {"uni": [6, 12]},
                                     "trained": [{"preset": "fmc-lora", "encoder": "uni", "epochs": 2},
                                                 {"preset": "cpu-cnn"}]})
    assert [m.method_id for m in spec.trained] == ["uni+lora", "e2e-small-cnn"]
    assert spec.trained[0].lora == (16, 16, 0.1) and spec.trained[0].epochs == 2
    assert ExperimentSpec.from_dict(spec.to_dict()) == spec
    amm = PRESETS["ammeling2025"]
    assert {m.kind for m in amm.trained} == {"lora"} and amm.split == "fmc"


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
        ({"e2e": {"epochs": 0}}, "sizes must be ≥ 1"),
        ({"e2e": {"colour": 1}}, "Unknown trained-method settings: colour"),
        ({"trained": [{"preset": "fmc-lora"}]}, "need an encoder name"),
        ({"trained": [{"kind": "lora", "encoder": "uni"}, {"kind": "lora", "encoder": "uni"}]}, "share a name"),
        ({"layers": {"uni": [6]}}, "not in encoders"),
        ({"layers": {"e": [0]}}, "block numbers ≥ 1"),
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
        ({"encoders": ["a", "a"]}, "lists a value twice"),
        ({"seeds": [0, 0]}, "`seeds` lists a value twice"),
        ({"protocols": []}, "no protocols"),
        ({"name": []}, "`name` must be one text"),
        ({"budgets": [10, "10/class"]}, r"`budgets` lists a value twice: \['10/class', '10/class'\]"),
        ({"budgets": ["lots"]}, "Cannot read the budget"),
        ({"colour": "red"}, "Unknown experiment field"),
        ({"e2e": {"arch": "vgg16"}}, "arch must be one of"),
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
