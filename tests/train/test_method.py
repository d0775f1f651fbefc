import pytest
import torch

from mitoviz.errors import SpecError
from mitoviz.train import LORA_RECIPES, PRESETS, TrainMethod
from mitoviz.train.loop import make_optimiser
from mitoviz.train.method import CNN_PRESETS


def test_published_lora_recipes():
    assert LORA_RECIPES == {"fmc": (16, 16, 0.1), "amibr": (8, 16, 0.3)}
    fmc, amb = TrainMethod.fmc_lora("uni"), TrainMethod.amibr_lora("uni")
    assert fmc.lora == (16, 16, 0.1) and amb.lora == (8, 16, 0.3)
    assert (fmc.lr, fmc.batch_size, fmc.epochs, fmc.samples_per_epoch, fmc.weight_decay) == (
        1e-4,
        16,
        100,
        1280,
        0.0,
    )
    assert (amb.lr, amb.batch_size, amb.weight_decay, amb.patience, amb.monitor, amb.scheduler) == (
        5e-5,
        8,
        1e-5,
        10,
        "balanced_accuracy",
        "plateau",
    )
    assert amb.samples_per_epoch is None  # AMB samples as many draws per epoch as training cells
    assert fmc.optimizer == amb.optimizer == "adam"  # torch.optim.Adam in both codes; AMB's decay is an L2 term
    assert TrainMethod.cpu_cnn().optimizer == "adamw"
    assert TrainMethod.amibr_e2e("resnet18").patience == 15
    assert fmc.replace(lora_r=4).lora == (4, 16, 0.1)


def test_each_recipe_gets_its_published_optimiser():
    params = [torch.nn.Parameter(torch.zeros(3))]
    amb = make_optimiser(TrainMethod.amibr_lora("uni"), params)
    assert type(amb) is torch.optim.Adam and amb.defaults["weight_decay"] == 1e-5 and amb.defaults["lr"] == 5e-5
    assert type(make_optimiser(TrainMethod.cpu_cnn(), params)) is torch.optim.AdamW


def test_method_ids_follow_the_results_contract():
    assert TrainMethod.fmc_cnn("resnet18").method_id == "e2e-resnet18"
    assert TrainMethod.fmc_lora("uni").method_id == "uni+lora"
    assert TrainMethod.fmc_finetune("uni").method_id == "uni+finetune"
    assert TrainMethod.fmc_lora("uni", name="uni+lora-r8").method_id == "uni+lora-r8"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_round_trips_through_a_spec_dict(preset):
    name = {"arch": "resnet18"} if preset in CNN_PRESETS else {"encoder": "uni"}
    method = TrainMethod.from_dict({"preset": preset, **name, "epochs": 7})
    assert method.epochs == 7
    assert TrainMethod.from_dict(method.to_dict()) == method


def test_zero_stands_for_none_in_toml_tables():
    method = TrainMethod.from_dict({"kind": "e2e", "arch": "resnet18", "patience": 0, "samples_per_epoch": 0})
    assert method.patience is None and method.samples_per_epoch is None


def test_cpu_cnn_is_the_demo_size():
    m = TrainMethod.cpu_cnn()
    assert (m.kind, m.arch, m.input_size, m.extent, m.epochs, m.samples_per_epoch) == (
        "e2e",
        "small-cnn",
        32,
        64,
        4,
        64,
    )


@pytest.mark.parametrize(
    "data, words",
    [
        ({"kind": "lora"}, "encoder"),
        ({"kind": "e2e", "arch": "resnet18", "encoder": "uni"}, "not an encoder"),
        ({"kind": "e2e", "arch": "vgg16"}, "arch"),
        ({"kind": "e2e", "arch": "resnet18", "monitor": "auc"}, "monitor"),
        ({"kind": "lora", "encoder": "uni", "lora_recipe": "big"}, "lora_recipe"),
        ({"kind": "lora", "encoder": "uni", "lora_dropout": 1.5}, "lora_dropout"),
        ({"kind": "lora", "encoder": "uni", "lora_alpha": 0}, "lora_alpha"),
        ({"kind": "e2e", "arch": "resnet18", "bn_cells": 0}, "bn_cells"),
        ({"kind": "e2e", "arch": "resnet18", "optimizer": "sgd"}, "optimizer"),
        ({"kind": "e2e", "arch": "resnet18", "color_jitter": [0.1, 0.1, 0.1, 0.9]}, "color_jitter"),
        ({"kind": "e2e", "arch": "resnet18", "learning_rate": 1}, "Unknown"),
        ({"preset": "nope"}, "preset"),
        ({"epochs": 3}, "kind"),
    ],
)
def test_bad_methods_say_what_is_wrong(data, words):
    with pytest.raises(SpecError, match=words):
        TrainMethod.from_dict(data)
