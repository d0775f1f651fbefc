"""Embedding throughput: the whole pipeline against the model alone, and a warm cache against a cold one.

For each encoder: (1) model-only rate — forward passes on random uint8 tensors of the same batch size,
dtype and device, no reading; (2) end-to-end rate — ``embed()`` from pyramidal TIFFs on disk through
the patch-reading workers into the cache; (3) the same ``embed()`` again with the cache warm.
The ratio (2)/(1) says how well reading and preprocessing hide behind the model (target ≥ 0.9).
(4) Depth: ``embed_layers()`` of 4 blocks spread over the encoder's depth (the last one included), in one
pass, against ``embed()`` of the ordinary embedding, both with a cold cache on the same cells, alternating,
best of two each; the ratio says what features from 4 depths cost (about 1: one forward pass, four
poolings and four cache entries instead of one).

    python bench/bench_embed.py [--cells 600] [--device cpu|cuda] [--encoders random-vits16 random-resnet50]
    python bench/bench_embed.py --device cuda --encoders uni-arch      # ViT-L/16 (UNI architecture, random weights)
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from mitoviz.config import load_settings, resolve_device
from mitoviz.data.patches import PatchSettings
from mitoviz.data.sources import load_dataset
from mitoviz.demo import generate_demo
from mitoviz.embed.extract import default_batch_size, embed, embed_layers
from mitoviz.embed.shards import Forward
from mitoviz.encoders import create_encoder, encoder_depth, get_spec, register
from mitoviz.encoders.depth import refusal


def _random_copy(name: str, new_name: str, **changes) -> str:
    """A no-weights copy of a zoo spec: the published architecture with random weights (speed only)."""
    spec = dataclasses.replace(get_spec(name), name=new_name, needs_weights=False, seed=0, **changes)
    register(spec, overwrite=True)
    return new_name


EXTRA = {
    "uni-arch": lambda: _random_copy("uni", "uni-arch", title="ViT-L/16 (UNI architecture, random weights)"),
    "vits16-224": lambda: _random_copy("random-vits16", "vits16-224", input_size=224,
                                       kwargs={"num_classes": 0, "img_size": 224}),
    "resnet50-224": lambda: _random_copy("random-resnet50", "resnet50-224", input_size=224),
}


def model_only_rate(model: torch.nn.Module, device: str, batch: int, size: int, batches: int) -> float:
    forward = Forward(model, device)
    x = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8)
    if device.startswith("cuda"):
        x = x.pin_memory()
    forward(x)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(batches):
        forward(x)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return batch * batches / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=600)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--patch", type=int, default=224)
    parser.add_argument("--encoders", nargs="+", default=["random-vits16", "random-resnet50", "vits16-224",
                                                            "resnet50-224"])
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_demo(Path(tmp) / "data", images_per_domain=4)
        cells = load_dataset(str(data)).cells.head(args.cells)
        patch = PatchSettings(args.patch)
        print(f"{len(cells)} cells, {args.patch} px patches from pyramidal TIFFs, device {device}, "
              f"torch threads {torch.get_num_threads()}")
        for name in args.encoders:
            if name in EXTRA:
                EXTRA[name]()
            settings = dataclasses.replace(load_settings({"MITOVIZ_HOME": f"{tmp}/home-{name}"}), device=device)
            model = create_encoder(name, settings, device=device)
            batch = default_batch_size(model, device)
            size = model.spec.input_size
            model_rate = model_only_rate(model, device, batch, args.patch, max(3, 256 // batch))
            cold = embed(cells, name, patch, settings, device, encoder=model, batch_size=batch)
            warm = embed(cells, name, patch, settings, device, encoder=model, batch_size=batch)
            e2e_rate = len(cells) / cold.seconds
            print(f"{name:16s} input {size:3d}px batch {batch:3d}: model-only {model_rate:7.1f}/s, end-to-end "
                  f"{e2e_rate:7.1f}/s, ratio {e2e_rate / model_rate:.2f}; cold {cold.seconds:6.1f} s, "
                  f"warm {warm.seconds:5.2f} s (warm/cold {warm.seconds / cold.seconds:.3f})")
            if refusal(model.spec) is None:
                depth_rate(name, cells, patch, settings, device, batch)


def spread_blocks(n: int, k: int = 4) -> list[int]:
    """``k`` block numbers spread over a depth of ``n``, the last one included (12 → 3, 6, 9, 12)."""
    return sorted({max(1, round(n * i / k)) for i in range(1, k + 1)})


def depth_rate(name: str, cells, patch: PatchSettings, settings, device: str, batch: int) -> None:
    """Cold ``embed()`` against cold ``embed_layers()`` of 4 blocks in one pass, alternating, best of two each."""
    n, unit = encoder_depth(name, settings)
    blocks = spread_blocks(n)
    single_model = create_encoder(name, settings, device=device)
    layered_model = create_encoder(name, settings, device=device, layers=blocks)
    single = layered = 0.0
    for rep in range(2):  # a fresh cache each time, so both are computed
        fresh = dataclasses.replace(settings, home=settings.home / f"depth-{rep}")
        one = embed(cells, name, patch, fresh, device, encoder=single_model, batch_size=batch)
        single = max(single, len(cells) / one.seconds)
        many = embed_layers(cells, name, blocks, patch, fresh, device, encoder=layered_model, batch_size=batch)
        layered = max(layered, len(cells) / max(r.seconds for r in many.values()))
    print(f"{'':16s} depth: {len(blocks)} {unit}s {blocks} of {n} in one pass {layered:7.1f}/s vs the single "
          f"embedding {single:7.1f}/s (best of 2 cold runs each), ratio {layered / single:.2f}")


if __name__ == "__main__":
    main()
