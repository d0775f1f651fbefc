"""What a trained method is: the end-to-end CNN, LoRA or full fine-tuning of a zoo encoder.

A :class:`TrainMethod` is pure data (JSON-able, hashable), built from a spec dict
(:meth:`TrainMethod.from_dict`) or from the published recipes (:data:`PRESETS`; sources in
``reference/finetuning.md``): FMC = Ammeling et al. 2025 (FoundationModelComparison), AMB = the
AMi-Br benchmark (Banerjee et al. 2025).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mitoviz.errors import SpecError

KINDS = ("e2e", "lora", "finetune")
CNN_ARCHS = ("resnet18", "resnet34", "resnet50", "small-cnn")
MONITORS = ("loss", "balanced_accuracy")
SCHEDULERS = ("none", "onecycle", "plateau")
OPTIMIZERS = ("adamw", "adam")  # adam: weight decay as an L2 term in the gradient, as torch.optim.Adam

#: The two published LoRA settings: (r, alpha, dropout); bias "none", the head trained in full.
LORA_RECIPES: dict[str, tuple[int, int, float]] = {
    "fmc": (16, 16, 0.1),  # FMC src/classifier.py
    "amibr": (8, 16, 0.3),  # AMB Foundation_Models/LoRA
}


@dataclass(frozen=True)
class TrainMethod:
    """One trained method. Sizes are in pixels; ``extent`` is level-0 px around the cell.

    ``epochs`` are pseudo-epochs of ``samples_per_epoch`` class-balanced draws (None: as many
    draws as training cells). ``patience`` None trains all epochs; either way the weights of the
    best validation epoch are kept.
    """

    kind: str
    arch: str = ""  # e2e: a torchvision ResNet or the CPU-sized "small-cnn"
    encoder: str = ""  # lora / finetune: a zoo encoder name
    pretrained: str = "auto"  # e2e: "auto" = ImageNet weights when found locally, "none" = random
    lora_recipe: str = "fmc"
    lora_r: int | None = None  # None: the recipe's value
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    input_size: int | None = None  # the CNN's input (default 224); encoders take their own (None)
    extent: int | None = None  # None: the experiment's patch size
    jitter: float = 0.1  # centre jitter, ± fraction of the extent
    epochs: int = 100
    samples_per_epoch: int | None = 1280
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float = 1e-4
    weight_decay: float = 0.0
    patience: int | None = 20
    monitor: str = "loss"
    scheduler: str = "none"
    val_fraction: float = 0.2
    val_max_cells: int = 1280
    bn_cells: int = 512  # training cells for the BatchNorm statistics after each epoch
    # augmentations, each drawn per sample
    hflip: bool = True
    vflip: bool = True
    rot90: bool = False
    rotate_degrees: float = 0.0  # uniform in ±degrees, with probability rotate_p
    rotate_p: float = 0.5
    crop_scale: float = 1.0  # < 1: random-resized crop keeping at least this fraction of the area
    color_jitter: tuple[float, float, float, float] = (
        0.0,
        0.0,
        0.0,
        0.0,
    )  # brightness, contrast, saturation, hue
    color_jitter_p: float = 0.5
    blur_p: float = 0.0  # Gaussian blur, kernel 5, sigma U(0.1, 1)
    stain: bool = False  # Macenko stain augmentation (torchstain), fitted per patch
    stain_sigma1: float = 0.4  # concentration scale U(1 ± sigma1); AMI notebooks (tiatoolbox defaults)
    stain_sigma2: float = 0.2  # concentration shift U(± sigma2)
    stain_p: float = 0.5
    name: str = ""  # display id override

    def __post_init__(self) -> None:
        object.__setattr__(self, "color_jitter", tuple(float(v) for v in self.color_jitter))
        self.validate()

    def validate(self) -> None:
        """Raise SpecError naming the first inconsistent field."""
        where = f"Trained method {self.name or self.kind!r}"
        checks = [
            (self.kind in KINDS, f"kind must be one of {', '.join(KINDS)}"),
            (self.kind != "e2e" or self.arch in CNN_ARCHS, f"arch must be one of {', '.join(CNN_ARCHS)}"),
            (self.kind == "e2e" or bool(self.encoder), "LoRA and fine-tuning need an encoder name"),
            (self.kind != "e2e" or not self.encoder, "the end-to-end CNN takes an arch, not an encoder"),
            (self.pretrained in ("auto", "none"), "pretrained must be 'auto' or 'none'"),
            (self.lora_recipe in LORA_RECIPES, f"lora_recipe must be one of {', '.join(LORA_RECIPES)}"),
            (
                min(self.epochs, self.batch_size, self.input_size or 8, self.extent or 8) >= 1,
                "sizes must be ≥ 1",
            ),
            (self.samples_per_epoch is None or self.samples_per_epoch >= 2, "samples_per_epoch must be ≥ 2"),
            (self.lr > 0 and self.weight_decay >= 0, "lr must be > 0 and weight_decay ≥ 0"),
            (self.patience is None or self.patience >= 1, "patience must be ≥ 1 (or None)"),
            (self.monitor in MONITORS, f"monitor must be one of {', '.join(MONITORS)}"),
            (self.scheduler in SCHEDULERS, f"scheduler must be one of {', '.join(SCHEDULERS)}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (0 <= self.val_fraction < 1 and self.val_max_cells >= 2, "val_fraction must lie in [0, 1)"),
            (0 <= self.jitter <= 0.5, "jitter must lie in [0, 0.5]"),
            (0 < self.crop_scale <= 1, "crop_scale must lie in (0, 1]"),
            (
                len(self.color_jitter) == 4 and min(self.color_jitter) >= 0 and self.color_jitter[3] <= 0.5,
                "color_jitter is (brightness, contrast, saturation, hue ≤ 0.5), all ≥ 0",
            ),
            (
                all(0 <= p <= 1 for p in (self.rotate_p, self.color_jitter_p, self.blur_p, self.stain_p)),
                "probabilities must lie in [0, 1]",
            ),
            (self.stain_sigma1 >= 0 and self.stain_sigma2 >= 0, "stain sigmas must be ≥ 0"),
            (self.lora_r is None or self.lora_r >= 1, "lora_r must be ≥ 1"),
            (self.lora_alpha is None or self.lora_alpha > 0, "lora_alpha must be > 0"),
            (self.lora_dropout is None or 0 <= self.lora_dropout < 1, "lora_dropout must lie in [0, 1)"),
            (self.bn_cells >= 1, "bn_cells must be ≥ 1 (BatchNorm statistics need cells)"),
        ]
        for ok, message in checks:
            if not ok:
                raise SpecError(f"{where}: {message}.", "Fix the method in the experiment spec.")

    @property
    def method_id(self) -> str:
        """The display id of results: ``e2e-resnet18``, ``uni+lora``, ``uni+finetune``."""
        if self.name:
            return self.name
        return f"e2e-{self.arch}" if self.kind == "e2e" else f"{self.encoder}+{self.kind}"

    @property
    def lora(self) -> tuple[int, int, float]:
        """(r, alpha, dropout): the recipe's values with any override applied."""
        r, alpha, dropout = LORA_RECIPES[self.lora_recipe]
        return (
            self.lora_r if self.lora_r is not None else r,
            self.lora_alpha if self.lora_alpha is not None else alpha,
            self.lora_dropout if self.lora_dropout is not None else dropout,
        )

    def replace(self, **changes: Any) -> TrainMethod:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; :meth:`from_dict` gives the same method back."""
        data = dataclasses.asdict(self)
        data["color_jitter"] = list(self.color_jitter)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainMethod:
        """A method from a spec table: ``{"preset": "fmc-lora", "encoder": "uni", "epochs": 10}``.

        Without a preset every field starts from the dataclass defaults (``kind`` is required).
        TOML has no null: 0 stands for None in ``samples_per_epoch``, ``patience``, ``input_size``
        and ``extent``. Unknown keys raise SpecError.
        """
        data = {k: (None if k in _ZERO_IS_NONE and v == 0 else v) for k, v in data.items()}
        preset = data.pop("preset", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(
                f"Unknown trained-method settings: {', '.join(unknown)}.",
                f"Use {', '.join(sorted(known))} (and preset).",
            )
        if "color_jitter" in data:
            data["color_jitter"] = tuple(data["color_jitter"])
        if preset is None:
            if "kind" not in data:
                raise SpecError(
                    "A trained method needs a kind or a preset.",
                    f"Set kind to one of {', '.join(KINDS)}, or preset to one of {', '.join(PRESETS)}.",
                )
            return cls(**data)
        if preset not in PRESETS:
            raise SpecError(f"Unknown trained-method preset {preset!r}.", f"Use one of {', '.join(PRESETS)}.")
        base = PRESETS[preset](data.get("arch" if preset in CNN_PRESETS else "encoder") or "")
        return base.replace(**data)

    # ---- published recipes ----------------------------------------------------------------------

    @classmethod
    def fmc_cnn(cls, arch: str = "resnet50", **changes: Any) -> TrainMethod:
        """The end-to-end CNN of Ganz et al. / FMC full fine-tuning: Adam lr 1e-4, batch 16,
        100 pseudo-epochs of 1,280, FMC augmentations. FMC stops early only when asked (its scripts do not)
        and scores the last epoch; here every FMC preset stops after 20 epochs without a better validation loss
        (FMC's own patience) and keeps the best epoch's weights: ``patience = 0`` trains all 100 epochs."""
        return cls(kind="e2e", arch=arch or "resnet50", **{**_FMC_TRAINING, "input_size": 224, **changes})

    @classmethod
    def fmc_lora(cls, encoder: str, **changes: Any) -> TrainMethod:
        """FMC LoRA (r 16, alpha 16, dropout 0.1) with the one-cycle schedule of scripts 04/05; early stopping
        and the best epoch as in :meth:`fmc_cnn`."""
        return cls(
            kind="lora",
            encoder=encoder,
            lora_recipe="fmc",
            **{**_FMC_TRAINING, "scheduler": "onecycle", **changes},
        )

    @classmethod
    def fmc_finetune(cls, encoder: str, **changes: Any) -> TrainMethod:
        """FMC full fine-tuning: the same loop with every weight trainable."""
        return cls(kind="finetune", encoder=encoder, **{**_FMC_TRAINING, **changes})

    @classmethod
    def amibr_lora(cls, encoder: str, **changes: Any) -> TrainMethod:
        """AMB LoRA (r 8, alpha 16, dropout 0.3): Adam lr 5e-5, wd 1e-5, batch 8, plateau schedule,
        early stopping on validation balanced accuracy with patience 10."""
        return cls(
            kind="lora", encoder=encoder, lora_recipe="amibr", **{**_AMB_TRAINING, **_AMB_LORA_AUG, **changes}
        )

    @classmethod
    def amibr_e2e(cls, arch: str = "resnet50", **changes: Any) -> TrainMethod:
        """AMB end-to-end recipe (patience 15) on a torchvision ResNet (AMB used EfficientNetV2-M,
        Swin-B and ViT-L)."""
        aug = {
            "hflip": False,
            "vflip": False,
            "rotate_degrees": 10.0,
            "rotate_p": 1.0,
            "crop_scale": 0.8,
            "color_jitter": (0.2, 0.2, 0.2, 0.1),
            "color_jitter_p": 1.0,
        }
        return cls(
            kind="e2e",
            arch=arch or "resnet50",
            **{**_AMB_TRAINING, "input_size": 224, "patience": 15, **aug, **changes},
        )

    @classmethod
    def cpu_cnn(cls, **changes: Any) -> TrainMethod:
        """The demo's CNN: small-cnn at 32 px on 64 px around the cell, 4 × 64 draws, batch 32,
        lr 1e-3, random init; one fit takes about a second on 2 CPU cores (bench/bench_lora.py)."""
        demo = {
            "arch": "small-cnn",
            "pretrained": "none",
            "input_size": 32,
            "extent": 64,
            "epochs": 4,
            "samples_per_epoch": 64,
            "batch_size": 32,
            "lr": 1e-3,
            "patience": 4,
            "rot90": True,
            "val_max_cells": 256,
            "bn_cells": 256,
        }
        return cls(kind="e2e", **{**demo, **changes})


_ZERO_IS_NONE = ("samples_per_epoch", "patience", "input_size", "extent")
_FMC_TRAINING: dict[str, Any] = {
    "epochs": 100,
    "samples_per_epoch": 1280,
    "batch_size": 16,
    "optimizer": "adam",
    "lr": 1e-4,
    "weight_decay": 0.0,
    "patience": 20,
    "monitor": "loss",
    "jitter": 0.1,
    # FMC create_dataloaders: ColorJitter 0.1 (p 0.5), blur (p 0.1), both flips, rotation ±180° (p 0.5)
    "color_jitter": (0.1, 0.1, 0.1, 0.1),
    "color_jitter_p": 0.5,
    "blur_p": 0.1,
    "hflip": True,
    "vflip": True,
    "rotate_degrees": 180.0,
    "rotate_p": 0.5,
}
_AMB_TRAINING: dict[str, Any] = {
    "epochs": 100,
    "samples_per_epoch": None,
    "batch_size": 8,
    "optimizer": "adam",  # torch.optim.Adam(lr 5e-5, weight_decay 1e-5): an L2 term, not AdamW's decay
    "lr": 5e-5,
    "weight_decay": 1e-5,
    "patience": 10,
    "monitor": "balanced_accuracy",
    "scheduler": "plateau",
    "jitter": 0.0,
}
# AMB LoRA (UNI, GigaPath, H-optimus-0): RandomResizedCrop(224), horizontal flip, rotation 15°,
# ColorJitter(0.2, 0.2)
_AMB_LORA_AUG: dict[str, Any] = {
    "hflip": True,
    "vflip": False,
    "rotate_degrees": 15.0,
    "rotate_p": 1.0,
    "crop_scale": 0.08,
    "color_jitter": (0.2, 0.2, 0.0, 0.0),
    "color_jitter_p": 1.0,
}

CNN_PRESETS = ("fmc-cnn", "amibr-e2e", "cpu-cnn")
#: Preset name → constructor taking the encoder name (the arch for CNN_PRESETS; "" for the default).
PRESETS: dict[str, Callable[[str], TrainMethod]] = {
    "fmc-cnn": lambda name: TrainMethod.fmc_cnn(name or "resnet50"),
    "fmc-lora": TrainMethod.fmc_lora,
    "fmc-finetune": TrainMethod.fmc_finetune,
    "amibr-lora": TrainMethod.amibr_lora,
    "amibr-e2e": lambda name: TrainMethod.amibr_e2e(name or "resnet50"),
    "cpu-cnn": lambda name: TrainMethod.cpu_cnn(),
}
