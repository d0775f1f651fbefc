import pytest

from mitoviz.train import TrainMethod, cpu_warning, estimate_fit, estimate_method
from mitoviz.train.resources import GIB


def test_the_documented_formula_by_hand():
    # ViT-S/16 at 224 px: 197 tokens, forward 2·P·T FLOPs; LoRA trains at 2F, everything else at 3F
    p, tokens = 22e6, 197
    vits = dict(params=p, input_size=224, batch_size=16, samples=1000, device="cpu", width=384, cpu_cores=2)
    lora = estimate_fit(kind="lora", trainable=0.3e6, **vits)
    assert lora.flops == pytest.approx(1000 * 2 * (2 * p * tokens))
    assert lora.seconds == pytest.approx(lora.flops / (2 * 27e9) + 1000 * 0.001)
    full = estimate_fit(kind="finetune", trainable=p, **vits)
    assert full.flops == pytest.approx(1.5 * lora.flops)
    assert full.memory_gb > lora.memory_gb  # gradients and AdamW moments for every weight


def test_gpu_estimates_include_checkpointing_context_and_scale_with_batch():
    kwargs = dict(
        kind="lora", params=304e6, trainable=2e6, input_size=224, samples=128_000, device="cuda", width=1024
    )
    small, large = estimate_fit(batch_size=8, **kwargs), estimate_fit(batch_size=64, **kwargs)
    assert large.memory_gb > small.memory_gb > (4 * 304e6 + GIB) / 1e9
    assert small.flops == pytest.approx(128_000 * 3 * 2 * 304e6 * 197)  # 2F + one recomputed forward
    assert small.seconds < 60 * 60 and small.warning is None
    assert "GB per fit on cuda" in small.label


def test_lora_on_a_large_vit_on_a_cpu_is_warned_about():
    text = cpu_warning("lora", 304e6, "cpu", 3600 * 90, "uni")
    assert "LoRA of uni (304 M parameters) on a CPU" in text and "GPU" in text and "90 h" in text
    assert cpu_warning("lora", 22e6, "cpu") is None
    assert cpu_warning("finetune", 304e6, "cuda") is None
    assert cpu_warning("e2e", 304e6, "cpu") is None


def test_estimates_for_methods_from_specs_without_building_models():
    uni = estimate_method(TrainMethod.fmc_lora("uni"), n_train=2000, device="cpu")
    assert uni.warning and "uni" in uni.warning
    assert estimate_method(TrainMethod.fmc_lora("uni"), n_train=2000, device="cuda").warning is None
    demo = estimate_method(TrainMethod.cpu_cnn(), n_train=128, device="cpu")
    assert demo.seconds < 5 and demo.warning is None
    vits = estimate_method(TrainMethod.fmc_lora("random-vits16", epochs=1), n_train=100, device="cpu")
    ft = estimate_method(TrainMethod.fmc_finetune("random-vits16", epochs=1), n_train=100, device="cpu")
    assert vits.seconds < ft.seconds
