import datetime
import re

import pytest
import torch
import torchvision

from mitoviz.errors import SpecError, WeightsError
from mitoviz.train import LORA_TARGETS, TrainMethod, lora_targets
from mitoviz.train.nets import (
    build,
    build_cnn,
    enable_gradient_checkpointing,
    imagenet_weights_file,
    wrap_lora,
)


def _linear_names(model):
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d)]


def test_lora_on_a_timm_vit_adapts_block_linears_and_never_the_patch_embedding(tiny_vit):
    built = build(TrainMethod.fmc_lora(tiny_vit), None)
    assert "body.model.patch_embed.proj" in _linear_names(built.core)
    assert built.lora_targets == tuple(
        f"body.model.blocks.{b}.{m}" for b in (0, 1) for m in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")
    )
    adapted = built.net.targeted_module_names
    assert adapted and not any("patch_embed" in n for n in adapted)
    trainable = [n for n, p in built.net.named_parameters() if p.requires_grad]
    assert trainable and all(
        ".lora_A." in n or ".lora_B." in n or ".head.modules_to_save." in n for n in trainable
    )
    # r 16 on qkv (32→96), proj (32→32), fc1 (32→128), fc2 (128→32) in 2 blocks, plus the 33-weight head
    assert built.trainable_params == 2 * 16 * (128 + 64 + 160 + 160) + 33
    frozen = sum(p.numel() for n, p in built.core.named_parameters() if "lora_" not in n and "head" not in n)
    assert built.total_params == built.trainable_params + frozen  # the head counted once


def test_a_suffix_list_would_have_hit_the_patch_embedding(tiny_vit):
    """Why the pattern: peft matches list entries as name suffixes, and "proj" ends patch_embed.proj."""
    names = _linear_names(build(TrainMethod.fmc_finetune(tiny_vit), None).core)
    assert any(n.endswith("patch_embed.proj") for n in names)
    assert not any(re.fullmatch(LORA_TARGETS, n) for n in names if "patch_embed" in n)


@pytest.mark.parametrize("family", ["vit", "dinov2", "dinov2-swiglu"])
def test_lora_targets_on_transformers_models(family):
    import transformers

    small = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
    }
    if family == "vit":
        model = transformers.ViTModel(
            transformers.ViTConfig(intermediate_size=64, **small), add_pooling_layer=False
        )
    else:
        model = transformers.Dinov2Model(
            transformers.Dinov2Config(use_swiglu_ffn=family.endswith("swiglu"), **small)
        )
    targets = lora_targets(model)
    linears = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert targets == linears  # every linear of the blocks (attention and MLP) ...
    assert not any("embeddings" in n for n in targets)  # ... and nothing of the patch embedding
    assert len(targets) == 2 * (7 if family == "dinov2-swiglu" else 6)


def test_lora_needs_transformer_blocks():
    net, _ = build_cnn("small-cnn")
    with pytest.raises(SpecError, match="no transformer blocks"):
        wrap_lora(net, 8, 16, 0.1, "small-cnn")


def _imagenet_file(settings, arch="resnet18"):
    name = torchvision.models.get_model_weights(arch).DEFAULT.url.rsplit("/", 1)[1]
    path = settings.weights_root / f"imagenet-{arch}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_imagenet_weights_found_locally_and_loaded(settings):
    path = _imagenet_file(settings)
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), path)
    assert imagenet_weights_file("resnet18", settings.weights_root) == path
    net, init = build_cnn("resnet18", path)
    assert init == "imagenet"
    assert torch.equal(net.body.conv1.weight, reference.conv1.weight)


@pytest.mark.parametrize("damage", ["pickled-object", "truncated", "wrong-shapes", "not-a-state-dict"])
def test_refused_or_damaged_imagenet_weights_give_a_weights_error(settings, damage):
    path = _imagenet_file(settings)
    state = torchvision.models.resnet18().state_dict()
    if damage == "pickled-object":  # needs arbitrary code to unpickle: weights_only refuses it
        torch.save({"conv1.weight": state["conv1.weight"], "when": datetime.datetime.now()}, path)
    elif damage == "truncated":
        torch.save(state, path)
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "wrong-shapes":
        torch.save(torchvision.models.resnet34().state_dict(), path)
    else:
        torch.save([state["conv1.weight"]], path)
    with pytest.raises(WeightsError) as info:
        build_cnn("resnet18", path)
    assert str(path) in str(info.value) and info.value.fix


def test_gradient_checkpointing_keeps_lora_gradients(tiny_vit):
    """The GPU path turns on the backbone's checkpointing; adapters must still get their gradients."""
    built = build(TrainMethod.fmc_lora(tiny_vit, lora_dropout=0.0), None)
    x = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
    for p in built.net.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p)  # lora_B starts at zero; make every adapter pass gradient on
    plain = _grads(built.net, x)
    assert enable_gradient_checkpointing(built.net) and built.core.body.model.grad_checkpointing
    checkpointed = _grads(built.net, x)
    assert plain.keys() == checkpointed.keys() and len(plain) == 2 * 4 * 2 + 2
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad)


def _grads(net, x):
    net.zero_grad(set_to_none=True)
    net(x).sum().backward()
    return {n: p.grad.clone() for n, p in net.named_parameters() if p.requires_grad}
