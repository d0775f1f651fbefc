"""How much GPU memory and time one fit needs, before it runs: pure arithmetic, no model built.

Compute. A forward pass costs F ≈ 2 · P · T FLOPs per patch: P parameters, T = (input/patch)² + 1
tokens (the same rule with patch 16 puts torchvision ResNets within 30 % of their published
FLOPs). Training a sample costs 3F with every weight trainable (forward, gradients for
activations and for weights), 2F with LoRA (the frozen weights need no gradient), plus F more when
gradient checkpointing recomputes the forward (GPU). Validation and BatchNorm passes cost F each.
Time = FLOPs / rate, plus reading and augmenting each patch (≈ 1 ms on one core: bench/bench_lora.py
streams the demo's pyramidal TIFFs at ≈ 0.55 ms a patch beyond the model's own time), which
DataLoader workers overlap with the GPU (there the larger of the two counts, with 8 readers).
Rates, sustained: CPU 27 GFLOP/s per core for transformers and 14 for CNNs (ViT-S/16 and ResNet-50
forward + backward + AdamW at 224 px, batch 16, on 2 idle cores of the development machine: 55 and
28 GFLOP/s; bench/bench_lora.py prints the figure for any machine); GPU 100 TFLOP/s for
transformers and 50 for CNNs in bf16, about a third of an A100/H100's peak (an assumption: not
measured here).

Memory (GPU). fp32 weights 4P; gradients and AdamW moments 12 bytes per trainable parameter;
activations per patch in bf16: a ViT block keeps ≈ 80 · D bytes per token (measured with saved-tensor
hooks: 63·D for ViT-S, 86·D for ViT-B); with gradient checkpointing only each block's fp32 input
(4 · D bytes per token) plus one block's worth stay. CNNs keep ≈ 8 MB per forward GFLOP (ResNet-18
6.5, ResNet-50 8.5, measured). Plus 1 GiB for the CUDA context and workspace. Depth of a ViT is
read off P ≈ 12 · depth · D².
"""

from __future__ import annotations

from dataclasses import dataclass

from mitoviz.config import Settings
from mitoviz.train.method import TrainMethod

GIB = 1024**3
CPU_GFLOPS_PER_CORE = {"vit": 27.0, "cnn": 14.0}
GPU_GFLOPS = {"vit": 100_000.0, "cnn": 50_000.0}
VIT_BLOCK_BYTES_PER_DIM = 80.0  # bf16 activations kept per token per block, per unit of width
CNN_BYTES_PER_GFLOP = 8e6
CUDA_OVERHEAD = 1.0 * GIB
SECONDS_PER_PATCH = 0.001  # read + augment one patch on one core
GPU_READERS = 8
LARGE_VIT = 100e6  # parameters: LoRA or fine-tuning of anything larger on a CPU gets a warning
CNN_PARAMS = {"resnet18": 11.69e6, "resnet34": 21.80e6, "resnet50": 25.56e6, "small-cnn": 0.098e6}
CNN_WIDTH = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "small-cnn": 128}


@dataclass(frozen=True)
class FitEstimate:
    seconds: float
    memory_gb: float  # GPU memory on a GPU; on a CPU the same sum in fp32 (RAM)
    device: str
    flops: float
    warning: str | None = None

    @property
    def label(self) -> str:
        s = self.seconds
        text = f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"
        return f"≈ {text} and {self.memory_gb:.1f} GB per fit on {self.device}"


def estimate_fit(
    *,
    kind: str,
    params: float,
    trainable: float,
    input_size: int,
    batch_size: int,
    samples: int,
    device: str,
    eval_samples: int = 0,
    width: int | None = None,
    architecture: str = "vit",
    patch: int = 16,
    cpu_cores: int = 2,
    name: str = "",
) -> FitEstimate:
    """Time and memory of one fit: ``samples`` training draws in all, ``eval_samples`` forward-only
    passes in all (validation, BatchNorm). ``width`` is a ViT's embedding width D; ``architecture``
    "vit" or "cnn". Formula and rates: the module docstring."""
    gpu = device.startswith("cuda")
    tokens = (input_size / patch) ** 2 + 1
    forward = 2.0 * params * tokens
    checkpointing = gpu and architecture == "vit" and kind != "e2e"
    per_sample = (2.0 if kind == "lora" else 3.0) * forward + (forward if checkpointing else 0.0)
    flops = samples * per_sample + eval_samples * forward
    rate = (GPU_GFLOPS[architecture] if gpu else CPU_GFLOPS_PER_CORE[architecture] * max(1, cpu_cores)) * 1e9
    reading = (samples + eval_samples) * SECONDS_PER_PATCH
    seconds = max(flops / rate, reading / GPU_READERS) if gpu else flops / rate + reading
    act_scale = 1.0 if gpu else 2.0  # bf16 on GPU, fp32 on CPU
    if architecture == "vit":
        d = float(width or 768)
        depth = max(1.0, params / (12 * d * d))
        block = VIT_BLOCK_BYTES_PER_DIM * d * tokens
        activations = (depth * 4 * d * tokens + block) if checkpointing else depth * block
    else:
        activations = CNN_BYTES_PER_GFLOP * forward / 1e9
    memory = (
        4 * params + 12 * trainable + batch_size * activations * act_scale + (CUDA_OVERHEAD if gpu else 0.0)
    )
    warning = cpu_warning(kind, params, device, seconds, name)
    return FitEstimate(seconds, memory / 1e9, device, flops, warning)


def cpu_warning(
    kind: str, params: float, device: str, seconds: float | None = None, name: str = ""
) -> str | None:
    """A plain warning when LoRA or fine-tuning of a large ViT (> 100 M parameters) is asked of a CPU."""
    if device.startswith("cuda") or kind == "e2e" or params <= LARGE_VIT:
        return None
    what = "LoRA" if kind == "lora" else "Full fine-tuning"
    took = f" (about {seconds / 3600:.0f} h per fit)" if seconds else ""
    return (
        f"{what} of {name or 'this encoder'} ({params / 1e6:.0f} M parameters) on a CPU is impractical"
        f"{took}. "
        "Run it on a GPU (device cuda, or a Dask cluster whose workers declare a GPU resource), or pick a "
        "smaller encoder."
    )


def method_size(method: TrainMethod, settings: Settings | None = None) -> tuple[float, float, int, str, int]:
    """(parameters, trainable parameters, width, architecture, input size) of a method, from the
    encoder's spec (``params_m``, ``dim``) or the CNN table, without building anything.
    LoRA adapters: r · (in + out) on qkv, proj, fc1, fc2 of every block = 16 · r · D per block."""
    if method.kind == "e2e":
        params = CNN_PARAMS[method.arch]
        return params, params, CNN_WIDTH[method.arch], "cnn", method.input_size or 224
    from mitoviz.encoders import TOKEN_POOLINGS, get_spec

    spec = get_spec(method.encoder, settings)
    params = (spec.params_m or 86.0) * 1e6
    width = (spec.dim or 768) // (2 if spec.pooling == "cls+patch_mean" else 1)
    architecture = "vit" if spec.pooling in TOKEN_POOLINGS else "cnn"
    trainable = params
    if method.kind == "lora":
        depth = max(1.0, params / (12 * width * width))
        trainable = 16 * method.lora[0] * width * depth + width + 1
    return params, trainable, width, architecture, method.input_size or spec.input_size


def estimate_method(
    method: TrainMethod, n_train: int, device: str, settings: Settings | None = None, cpu_cores: int = 2
) -> FitEstimate:
    """:func:`estimate_fit` for one fit of ``method`` on ``n_train`` labelled cells, all epochs run."""
    params, trainable, width, architecture, input_size = method_size(method, settings)
    per_epoch = method.samples_per_epoch or n_train
    val = min(method.val_max_cells, round(method.val_fraction * n_train))
    bn = min(method.bn_cells, n_train) if architecture == "cnn" else 0
    return estimate_fit(
        kind=method.kind,
        params=params,
        trainable=trainable,
        input_size=input_size,
        batch_size=method.batch_size,
        samples=method.epochs * per_epoch,
        eval_samples=method.epochs * (val + bn),
        device=device,
        width=width,
        architecture=architecture,
        cpu_cores=cpu_cores,
        name=method.encoder or method.arch,
    )
