"""Features from any depth (Vadori et al.): naming blocks, and which encoders can give them.

Blocks are numbered from 1 (the first transformer block, or the first stage of a CNN or Swin) to
the encoder's depth; ``"all"`` names every one. A method that uses block ``b`` of encoder ``e`` is
called ``e@b`` (``uni@12``). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mitoviz.encoders.spec import EncoderSpec
from mitoviz.errors import SpecError

SEPARATOR = "@"
#: Bumped when block extraction or block pooling changes in a way that changes the numbers.
DEPTH_VERSION = 1

Layers = Sequence[int] | str


def method_name(encoder: str, block: int | None = None) -> str:
    """The method id of an encoder's block (``uni@12``), or of its final embedding (``uni``)."""
    return encoder if block is None else f"{encoder}{SEPARATOR}{block}"


def split_method(name: str) -> tuple[str, int | None]:
    """``"uni@12"`` → ``("uni", 12)``; ``"uni"`` → ``("uni", None)``."""
    encoder, sep, block = name.partition(SEPARATOR)
    if not sep:
        return name, None
    if not block.strip().isdigit() or int(block) < 1:
        raise SpecError(
            f"{name!r} names no block: after '{SEPARATOR}' comes a block number from 1.",
            f"Write e.g. {encoder.strip() or 'uni'}{SEPARATOR}12.",
        )
    return encoder.strip(), int(block)


def refusal(spec: EncoderSpec) -> str | None:
    """Why ``spec`` cannot give single blocks, known from the spec alone (None: it may)."""
    if spec.library == "handcrafted":
        return f"{spec.title} are computed features, not a network with blocks"
    if spec.tower:
        return (
            f"{spec.title}'s embedding is an attention pool trained on the last block's normalised tokens; "
            "no pooling of single blocks is published"
        )
    if spec.pooling == "none":
        return f"{spec.title} returns one vector per patch and no blocks"
    return None


def resolve_layers(layers: Layers, n_blocks: int, spec: EncoderSpec, unit: str = "block") -> tuple[int, ...]:
    """Block numbers as ascending unique ints in 1…``n_blocks``; ``"all"`` is every one."""
    where = f"{spec.name} has {n_blocks} {unit}s (1–{n_blocks})"
    if isinstance(layers, str):
        if layers.strip().lower() != "all":
            raise SpecError(f"layers = {layers!r} is not understood; {where}.", 'Give block numbers or "all".')
        return tuple(range(1, n_blocks + 1))
    numbers = list(layers)
    if not numbers or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise SpecError(f"layers = {layers!r} must be whole block numbers; {where}.", "E.g. [6, 12].")
    wrong = sorted({n for n in numbers if not 1 <= n <= n_blocks})
    if wrong:
        raise SpecError(
            f"{spec.name} has no {unit} {', '.join(map(str, wrong))}: {where}.",
            f'Use numbers from 1 to {n_blocks}, or "all".',
        )
    return tuple(sorted(set(numbers)))


def block_identity(identity: dict[str, Any], block: int) -> dict[str, Any]:
    """The cache identity of one block's embedding: the encoder's, plus the block (never equal to it)."""
    return {**identity, "block": int(block), "depth_version": DEPTH_VERSION}
