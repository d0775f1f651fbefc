"""The networks a method trains: a body that pools a patch to one vector, and a one-logit head.

- ``e2e``: a torchvision ResNet (ImageNet weights when found on disk, loaded with
  ``weights_only=True``) or the CPU-sized :class:`SmallCNN`;
- ``finetune``: a zoo encoder built by ``mitoviz.encoders.create_encoder``, every weight trainable;
- ``lora``: the same encoder wrapped by peft: LoRA on the transformer blocks only (never the patch
  embedding), bias "none", the head trained in full (``modules_to_save``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mitoviz.config import Settings
from mitoviz.encoders.spec import IMAGENET_MEAN, IMAGENET_STD
from mitoviz.errors import SpecError, WeightsError
from mitoviz.train.method import TrainMethod

#: LoRA targets, a regex over full module names (peft ``re.fullmatch``): attention and MLP linears
#: inside numbered transformer blocks. timm ``blocks.N.attn.qkv|proj`` and ``blocks.N.mlp.fc1|fc2``
#: (also SwiGLUPacked); transformers ViT/DINOv2 before v5 (``layer.N.attention.attention.query``...,
#: ``intermediate.dense``, ``output.dense``, ``mlp.weights_in|out``) and from v5 (``q_proj`` ...
#: ``o_proj``, ``mlp.fc1|fc2``, ``gate_proj|up_proj|down_proj``). A bare suffix list such as
#: ["qkv", "proj"] would also hit timm's ``patch_embed.proj``; this pattern cannot.
LORA_TARGETS = (
    r"(?:.*\.)?(?:blocks|layers?)\.\d+\.(?:"
    r"attn\.(?:qkv|proj|q_proj|k_proj|v_proj)"
    r"|mlp\.(?:fc1|fc2|weights_in|weights_out|gate_proj|up_proj|down_proj)"
    r"|attention\.(?:attention\.)?(?:query|key|value|q_proj|k_proj|v_proj|o_proj)"
    r"|attention\.output\.dense|intermediate\.dense|output\.dense)"
)
_EMBEDDING_NAMES = re.compile(r"patch_embed|embeddings")


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU stages (16-32-64-128 channels) and a global average pool: ~0.1 M weights,
    enough for the synthetic demo and fast enough to train on a laptop CPU in about a second."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for i in range(4):
            out = width * 2**i
            layers += [
                nn.Conv2d(channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
            channels = out
        self.features = nn.Sequential(*layers)
        self.out_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean((2, 3))


class Net(nn.Module):
    """uint8 patches ``[B, S, S, 3]`` → one logit per patch; :meth:`embed` gives the pooled vector."""

    def __init__(
        self,
        body: nn.Module,
        dim: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        pool: Callable[[torch.Tensor], torch.Tensor] | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.body = body
        self.dim = dim
        self.head = nn.Linear(dim, 1)
        self.pool = pool
        self.channels_last = channels_last
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.to(self.mean.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        features = self.body(x)
        return self.pool(features) if self.pool is not None else features

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(pixels)).squeeze(1)


@dataclass
class Built:
    """A network ready to train, and what it was made from."""

    net: nn.Module  # Net, or a peft PeftModel around one
    init: str  # "imagenet", "random", or the encoder's weights ("weights" / "random-init")
    input_size: int
    trainable_params: int
    total_params: int
    lora_targets: tuple[str, ...] = ()

    @property
    def core(self) -> Net:
        """The Net inside (peft keeps it as the base model, adapters injected in place)."""
        net = self.net
        return net.get_base_model() if hasattr(net, "get_base_model") else net


def imagenet_weights_file(arch: str, weights_root: Path | None = None) -> Path | None:
    """torchvision's ImageNet file for ``arch`` on this machine: the weights folder (``imagenet-<arch>/``
    or its top level), then the torch hub cache. Never downloads."""
    import torchvision

    filename = Path(torchvision.models.get_model_weights(arch).DEFAULT.url).name
    folders = [weights_root / f"imagenet-{arch}", weights_root] if weights_root is not None else []
    folders.append(Path(torch.hub.get_dir()) / "checkpoints")
    for folder in folders:
        if (folder / filename).is_file():
            return folder / filename
    return None


def load_imagenet_state(path: Path) -> dict[str, torch.Tensor]:
    """A torchvision state dict, read as every weights file is (nothing in it executed; refusals are
    WeightsError)."""
    from mitoviz.encoders.weights import read_checkpoint

    fix = f"Replace {path} with the file torchvision publishes, or delete it to train from random weights."
    state = read_checkpoint(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors.", fix)
    return state


def build_cnn(arch: str, weights_file: Path | None = None) -> tuple[Net, str]:
    """A one-logit CNN on ImageNet-normalised input; ImageNet weights loaded strictly when given."""
    if arch == "small-cnn":
        body: nn.Module = SmallCNN()
        return Net(body, body.out_features, IMAGENET_MEAN, IMAGENET_STD), "random"
    import torchvision

    body = torchvision.models.get_model(arch, weights=None)
    init = "random"
    if weights_file is not None:
        try:
            body.load_state_dict(load_imagenet_state(weights_file), strict=True)
        except RuntimeError as exc:
            raise WeightsError(
                f"{weights_file} does not fit torchvision's {arch}: {exc}",
                f"Use the ImageNet file torchvision publishes for {arch}.",
            ) from exc
        init = "imagenet"
    dim = body.fc.in_features
    body.fc = nn.Identity()
    return Net(body, dim, IMAGENET_MEAN, IMAGENET_STD, channels_last=True), init


def build_encoder_net(name: str, settings: Settings | None) -> tuple[Net, str, int]:
    """A zoo encoder's backbone and pooling under a fresh head; returns (net, init, input size)."""
    from mitoviz.encoders import create_encoder, get_spec

    spec = get_spec(name, settings)
    encoder = create_encoder(spec, settings, device="cpu")
    init = "weights" if spec.needs_weights else "random-init"
    # The Encoder module stays frozen in eval mode by design; train its backbone under a Net instead.
    body, dim = encoder.backbone, encoder.dim
    net = Net(body, dim, spec.mean, spec.std, pool=encoder.pool, channels_last=spec.channels_last)
    return net, init, spec.input_size


def lora_targets(net: nn.Module) -> list[str]:
    """Names of the modules LoRA would adapt in ``net`` (the LORA_TARGETS pattern)."""
    pattern = re.compile(LORA_TARGETS)
    return [n for n, m in net.named_modules() if pattern.fullmatch(n) and isinstance(m, nn.Linear)]


def wrap_lora(net: Net, r: int, alpha: int, dropout: float, name: str) -> nn.Module:
    """peft LoRA on the transformer blocks; every base weight frozen, the head trained in full."""
    from peft import LoraConfig, get_peft_model

    targets = lora_targets(net)
    if not targets:
        raise SpecError(
            f"{name} has no transformer blocks for LoRA (no attention or MLP linears in numbered blocks).",
            "Use LoRA on a ViT encoder, or full fine-tuning for CNN encoders.",
        )
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        bias="none",
        target_modules=LORA_TARGETS,
        modules_to_save=["head"],
    )
    peft_net = get_peft_model(net, config)
    touched = [n for n in peft_net.targeted_module_names if _EMBEDDING_NAMES.search(n)]
    if touched:  # the pattern is meant to make this impossible; keep the promise checked
        raise SpecError(f"LoRA would adapt embedding layers {touched} of {name}.", "Report this as a bug.")
    return peft_net


def enable_gradient_checkpointing(net: nn.Module) -> bool:
    """Turn on the backbone's own gradient checkpointing (timm or transformers); False if it has none."""
    for module in net.modules():
        if hasattr(module, "set_grad_checkpointing"):
            module.set_grad_checkpointing(True)
            return True
        if hasattr(module, "gradient_checkpointing_enable"):
            module.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            return True
    return False


def count_params(net: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters; peft's ``modules_to_save`` copy of the head counted once."""
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    total = sum(p.numel() for n, p in net.named_parameters() if ".original_module." not in n)
    return trainable, total


def build(
    method: TrainMethod,
    settings: Settings | None = None,
    *,
    weights_file: Path | None = None,
    for_training: bool = True,
) -> Built:
    """The network for ``method`` on the CPU, seeded by the caller's torch RNG.

    ``for_training=False`` leaves LoRA out (a saved adapter is loaded onto the bare net instead).
    """
    if method.kind == "e2e":
        net, init = build_cnn(method.arch, weights_file)
        input_size = method.input_size or 224
    else:
        net, init, input_size = build_encoder_net(method.encoder, settings)
        if method.input_size not in (None, input_size):
            raise SpecError(
                f"{method.encoder} takes {input_size} px patches, not {method.input_size}.",
                "Leave input_size out for LoRA and fine-tuning (use extent for the field of view).",
            )
        if method.kind == "finetune":
            for p in net.parameters():
                p.requires_grad_(True)
    targets: tuple[str, ...] = ()
    if method.kind == "lora" and for_training:
        targets = tuple(lora_targets(net))
        r, alpha, dropout = method.lora
        net = wrap_lora(net, r, alpha, dropout, method.method_id)
    trainable, total = count_params(net)
    return Built(net, init, input_size, trainable, total, targets)
