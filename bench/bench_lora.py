"""LoRA training speed and memory against the plain model, and the CPU demo CNN's seconds per fit.

(1) Baseline: forward + backward of the plain model (every weight trainable, no adapters, no
optimiser step) on random input at the given size and batch; (2) LoRA step: forward + backward +
AdamW step with the trainer's adapters (``mitoviz.train.nets.wrap_lora``, FMC recipe r 16 / alpha 16
/ dropout 0.1 on the block linears, head trained); (3) full fine-tuning step: forward + backward +
AdamW step on every weight. Each phase builds its own model (the others freed); the three run in
rounds and each keeps its best rate, so load from other processes hits all alike. Printed as rates
and as ratios to (1), with peak memory of each phase (peak RSS on a CPU, reset before each phase
through /proc/self/clear_refs; max_memory_allocated on a GPU) and its ratio to the baseline's.
Random weights; on a GPU bf16 autocast as the trainer uses it.
(4) The demo's CNN (``TrainMethod.cpu_cnn()``): seconds per fit on the synthetic demo set at the
demo's size (64 labelled cells per class, 4 epochs × 64 draws, 32 px), patches streamed from
pyramidal TIFFs, against the same number of model steps on in-memory tensors.

    python bench/bench_lora.py                      # ViT-S/16, CPU, batch 16 at 224 px
    python bench/bench_lora.py --device cuda --arch vit_large_patch16_224
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mitoviz.train import TrainMethod, train_fit
from mitoviz.train.nets import IMAGENET_MEAN, IMAGENET_STD, Net, build_cnn, wrap_lora


def _reset_peak(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (peak RSS) to the current RSS


def _peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def _net(arch: str, size: int) -> Net:
    import timm

    torch.manual_seed(0)
    body = timm.create_model(arch, pretrained=False, num_classes=0, img_size=size)
    return Net(body, body.num_features, IMAGENET_MEAN, IMAGENET_STD)


def _phase(step: Callable[[], None], steps: int, warmup: int, batch: int, device: str) -> tuple[float, float]:
    """(patches/s, peak MB) of ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    _reset_peak(device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started), _peak_mb(device)


def bench_lora(arch: str, device: str, batch: int, size: int, steps: int, warmup: int, repeats: int) -> None:
    on_cuda = device.startswith("cuda")
    x = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8, device=device)
    y = torch.randint(0, 2, (batch,), device=device).float()

    def make_step(net: torch.nn.Module, optimiser: torch.optim.Optimizer | None) -> Callable[[], None]:
        def step() -> None:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
                logits = net(x)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
            net.zero_grad(set_to_none=True)
            loss.backward()
            if optimiser is not None:
                optimiser.step()

        return step

    def plain() -> Callable[[], None]:
        return make_step(_net(arch, size).to(device).train(), None)

    def full() -> Callable[[], None]:
        net = _net(arch, size).to(device).train()
        return make_step(net, torch.optim.AdamW(net.parameters(), lr=1e-5))

    def lora() -> Callable[[], None]:
        net = wrap_lora(_net(arch, size), 16, 16, 0.1, arch).to(device).train()
        return make_step(net, torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4))

    phases = {
        "plain forward+backward (baseline)": plain,
        "LoRA r16 forward+backward+AdamW": lora,
        "full fine-tuning forward+backward+AdamW": full,
    }
    print(
        f"{arch} on {device}, batch {batch} at {size} px: {repeats} rounds of the three phases, "
        f"{steps} timed steps each after {warmup} warm-up; best rate and highest peak per phase"
    )
    results: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):
        for name, make in phases.items():
            step = make()
            rate, peak = _phase(step, steps, warmup, batch, device)
            best = results.get(name, (0.0, 0.0))
            results[name] = (max(best[0], rate), max(best[1], peak))
            del step
    for name, (rate, peak) in results.items():
        print(f"  {name:<44} {rate:8.2f} patches/s   peak {peak:9.0f} MB")
    reference = _net(arch, size)
    params = sum(p.numel() for p in reference.parameters())
    trainable = sum(
        p.numel() for p in wrap_lora(reference, 16, 16, 0.1, arch).parameters() if p.requires_grad
    )
    (base_rate, base_peak), (lora_rate, lora_peak), (full_rate, full_peak) = results.values()
    print(
        f"  parameters {params / 1e6:.1f} M, "
        f"LoRA trainable {trainable / 1e6:.2f} M ({trainable / params:.1%})"
    )
    print(f"  RATIO LoRA step rate / plain fwd+bwd rate        = {lora_rate / base_rate:.2f}")
    print(f"  RATIO full fine-tune step rate / plain fwd+bwd   = {full_rate / base_rate:.2f}")
    print(f"  RATIO LoRA peak memory / plain fwd+bwd peak      = {lora_peak / base_peak:.2f}")
    print(f"  RATIO full fine-tune peak / plain fwd+bwd peak   = {full_peak / base_peak:.2f}")
    fwd_bwd = 3 * 2 * params * ((size / 16) ** 2 + 1)  # the rule of mitoviz/train/resources.py: 3F, F = 2·P·T
    print(f"  sustained plain fwd+bwd: {base_rate * fwd_bwd / 1e9:.1f} GFLOP/s by the 3·2·P·T rule")


def _demo_cells(folder: Path, per_class: int) -> tuple[object, np.ndarray, np.ndarray]:
    from mitoviz.data.sources import load_dataset
    from mitoviz.demo import generate_demo

    generate_demo(folder, seed=0, images_per_domain=2, image_size=768)
    cells = load_dataset(str(folder)).cells
    y = (cells["label"].to_numpy() == "mitotic figure").astype(np.int64)
    rng = np.random.default_rng(0)
    rows = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), min(per_class, int((y == c).sum())), replace=False)
            for c in (0, 1)
        ]
    )
    return cells, y, np.sort(rows)


def bench_demo_cnn(fits: int, per_class: int) -> None:
    method = TrainMethod.cpu_cnn()
    with tempfile.TemporaryDirectory() as tmp:
        cells, y, rows = _demo_cells(Path(tmp), per_class)
        print(
            f"demo CNN ({method.arch}, {method.input_size} px on {method.extent} px, {method.epochs} × "
            f"{method.samples_per_epoch} draws, batch {method.batch_size}), {len(rows)} labelled cells, "
            f"{torch.get_num_threads()} torch threads"
        )
        train_fit(method, cells, rows, y, seed=99)  # warm-up: imports, first OpenSlide opens
        started = time.perf_counter()
        for seed in range(fits):
            record = train_fit(method, cells, rows, y, seed=seed).record
        per_fit = (time.perf_counter() - started) / fits
    # the same optimiser steps and evaluation passes on in-memory tensors: the model's share
    net, _ = build_cnn(method.arch)
    optimiser = torch.optim.AdamW(net.parameters(), lr=method.lr)
    x = torch.randint(0, 256, (method.batch_size, method.input_size, method.input_size, 3), dtype=torch.uint8)
    target = torch.randint(0, 2, (method.batch_size,)).float()
    steps = method.epochs * method.samples_per_epoch // method.batch_size
    evals = method.epochs * (record.n_val + min(method.bn_cells, record.n_train))
    started = time.perf_counter()
    for _ in range(steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        for _ in range(-(-evals // 64)):
            net(torch.randint(0, 256, (64, method.input_size, method.input_size, 3), dtype=torch.uint8))
    model_only = time.perf_counter() - started
    print(
        f"  seconds per fit (streamed from TIFFs, validation, BatchNorm update) = {per_fit:.2f} s "
        f"(n_train {record.n_train}, n_val {record.n_val}, {record.epochs_run} epochs)"
    )
    print(f"  model-only time for the same steps and passes in memory           = {model_only:.2f} s")
    print(
        f"  RATIO fit / model-only = {per_fit / model_only:.1f}; "
        f"per streamed patch ≈ {1000 * (per_fit - model_only) / (steps * method.batch_size + evals):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arch", default="vit_small_patch16_224")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of the three phases (best rate kept)")
    parser.add_argument("--demo-fits", type=int, default=3, help="demo CNN fits to time (0: skip)")
    parser.add_argument("--per-class", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-lora", action="store_true", help="only the demo CNN")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.no_lora:
        bench_lora(args.arch, args.device, args.batch, args.size, args.steps, args.warmup, args.repeats)
    if args.demo_fits:
        bench_demo_cnn(args.demo_fits, args.per_class)


if __name__ == "__main__":
    main()
