"""The experiment spec: what to compare, on which data, with which labels and splits.

The same object comes from a TOML file (``python -m mitoviz run spec.toml``), from the
New-benchmark page, or from Python. Presets reproduce the published protocols.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mitoviz.data.cells import DOMAIN_COLUMNS
from mitoviz.data.splits import SPLIT_MODES, Budget
from mitoviz.errors import SpecError

PROTOCOL_KINDS = {
    "pooled": "train on all domains, test on every domain",
    "cross": "train on one domain, test on every domain (the train × test matrix)",
    "lodo": "leave one domain out: train on the others, test on it",
}


def parse_protocol(text: str) -> tuple[str, str | None]:
    """``pooled`` | ``cross:<axis>`` | ``lodo:<axis>`` with axis ``scanner`` or ``tumor_type``."""
    kind, _, axis = text.partition(":")
    if kind not in PROTOCOL_KINDS or (kind == "pooled") != (axis == ""):
        raise SpecError(
            f"Unknown protocol {text!r}.",
            "Use pooled, cross:scanner, cross:tumor_type, lodo:scanner or lodo:tumor_type.",
        )
    if axis and axis not in DOMAIN_COLUMNS:
        raise SpecError(f"Unknown domain axis {axis!r} in {text!r}.", f"Use one of {', '.join(DOMAIN_COLUMNS)}.")
    return kind, axis or None


@dataclass(frozen=True)
class E2ESpec:
    """The end-to-end CNN baseline (Ganz et al. recipe; smaller settings for CPU demos)."""

    arch: str = "resnet50"
    input_size: int = 224
    extent: int | None = None  # level-0 px around the cell the CNN sees; None: the experiment's patch size
    epochs: int = 100
    samples_per_epoch: int = 1280
    batch_size: int = 16
    lr: float = 1e-4
    patience: int = 20
    jitter: float = 0.1
    pretrained: str = "auto"  # "auto": ImageNet weights when found locally; "none": random init

    def __post_init__(self) -> None:
        if self.arch not in ("resnet18", "resnet34", "resnet50"):
            raise SpecError(f"Unknown end-to-end architecture {self.arch!r}.", "Use resnet18, resnet34 or resnet50.")
        if self.pretrained not in ("auto", "none"):
            raise SpecError(f"e2e.pretrained must be 'auto' or 'none', not {self.pretrained!r}.")
        if min(self.input_size, self.epochs, self.samples_per_epoch, self.batch_size, self.extent or 1) < 1:
            raise SpecError("End-to-end sizes (input_size, epochs, samples_per_epoch, batch_size) must be ≥ 1.")

    @property
    def name(self) -> str:
        return f"e2e-{self.arch}"


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    datasets: tuple[str, ...]
    encoders: tuple[str, ...]
    budgets: tuple[Budget, ...]
    classifiers: tuple[str, ...] = ("linear-probe",)
    seeds: tuple[int, ...] = (0, 1, 2)
    split: str = "slide"
    test_fraction: float = 0.2
    protocols: tuple[str, ...] = ("pooled",)
    patch_size: int = 224
    mpp: float | None = None
    on_budget_overflow: str = "error"
    e2e: E2ESpec | None = None
    classifier_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    projection: str = "umap"

    def __post_init__(self) -> None:
        if not self.datasets:
            raise SpecError("The experiment names no data set.", "Add at least one to `datasets`.")
        if not self.encoders and self.e2e is None:
            raise SpecError("The experiment has neither encoders nor an end-to-end baseline.", "Add an encoder.")
        if not self.budgets:
            raise SpecError("The experiment has no label budgets.", "Add e.g. budgets = [10, 100] or ['1%', '10%'].")
        if not self.seeds:
            raise SpecError("The experiment has no seeds.", "Add e.g. seeds = [0, 1, 2].")
        if self.split not in SPLIT_MODES:
            raise SpecError(f"Unknown split mode {self.split!r}.", f"Use one of {', '.join(SPLIT_MODES)}.")
        if self.on_budget_overflow not in ("error", "cap"):
            raise SpecError("on_budget_overflow must be 'error' or 'cap'.")
        if self.projection not in ("umap", "pca", "none"):
            raise SpecError(f"Unknown projection {self.projection!r}.", "Use umap, pca or none.")
        for protocol in self.protocols:
            parse_protocol(protocol)
        for group in ("datasets", "encoders", "classifiers", "protocols"):
            values = getattr(self, group)
            if len(set(values)) != len(values):
                raise SpecError(f"`{group}` lists a name twice: {list(values)}.")
        if self.encoders and not self.classifiers:
            raise SpecError("Encoders are listed but no classifier.", "Add e.g. classifiers = ['linear-probe'].")

    # --- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["budgets"] = [b.label for b in self.budgets]
        data["e2e"] = asdict(self.e2e) if self.e2e else None
        for key in ("datasets", "encoders", "classifiers", "seeds", "protocols"):
            data[key] = list(data[key])
        return data

    def spec_hash(self) -> str:
        """Identity of what would be computed (the name is a label, not part of it)."""
        data = self.to_dict()
        data.pop("name")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSpec:
        data = dict(data)
        preset = data.pop("preset", None)
        base = PRESETS[_preset_name(preset)].to_dict() if preset else {}
        base.update(data)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(base) - known)
        if unknown:
            raise SpecError(f"Unknown experiment field(s) {unknown}.", f"Known fields: {', '.join(sorted(known))}.")
        try:
            e2e = base.get("e2e")
            args = dict(base)
            args["budgets"] = tuple(Budget.parse(b) for b in _as_list(base.get("budgets", [])))
            args["e2e"] = E2ESpec(**e2e) if isinstance(e2e, dict) else None
            for key in ("datasets", "encoders", "classifiers", "protocols"):
                if key in args:
                    args[key] = tuple(str(v) for v in _as_list(args[key]))
            if "seeds" in args:
                args["seeds"] = tuple(int(s) for s in _as_list(args["seeds"]))
            if args.get("mpp") in ("", 0):
                args["mpp"] = None
            args.setdefault("name", "experiment")
            return cls(**args)
        except TypeError as exc:
            raise SpecError(f"The experiment description is malformed: {exc}.") from exc
        except ValueError as exc:
            raise SpecError(f"The experiment description has a bad value: {exc}.") from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> ExperimentSpec:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SpecError(f"Experiment file {path} does not exist.", "Check the path.") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"{path} is not valid TOML: {exc}.", "Fix the syntax (see examples/).") from exc
        return cls.from_dict(data)

    def with_changes(self, **changes: Any) -> ExperimentSpec:
        return replace(self, **changes)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _preset_name(name: str) -> str:
    if name not in PRESETS:
        raise SpecError(f"Unknown experiment preset {name!r}.", f"Known presets: {', '.join(PRESETS)}.")
    return name


PRESETS: dict[str, ExperimentSpec] = {
    "ganz2025": ExperimentSpec(
        name="Ganz et al. 2025 protocol",
        datasets=("midogpp",),
        encoders=("uni", "virchow2", "h-optimus-0", "prov-gigapath", "phikon", "resnet50-imagenet"),
        budgets=tuple(Budget("fraction", f) for f in (0.001, 0.01, 0.1, 1.0)),
        classifiers=("linear-probe",),
        seeds=(42, 43, 44, 45, 46),
        split="cell",
        protocols=("pooled", "cross:tumor_type"),
        e2e=E2ESpec(),
    ),
    "nielsen2023": ExperimentSpec(
        name="Nielsen et al. 2023 protocol",
        datasets=("midogpp",),
        encoders=("uni", "phikon", "dinov2-vits14"),
        budgets=tuple(Budget("per_class", n) for n in (1, 5, 10, 25, 50, 100, 250, 500, 1000)),
        classifiers=("nielsen-svm", "nielsen-knn", "nielsen-logreg"),
        seeds=(0, 1, 2),
        on_budget_overflow="cap",
    ),
    "demo": ExperimentSpec(
        name="Synthetic demo",
        datasets=("mitoviz-demo",),
        encoders=("random-vits16", "random-resnet50", "handcrafted"),
        budgets=tuple(Budget("per_class", n) for n in (2, 8, 24, 64)),
        classifiers=("logreg",),
        seeds=(0, 1, 2),
        protocols=("pooled", "cross:scanner"),
        patch_size=96,
        on_budget_overflow="cap",
        # A CPU-sized CNN: 64 px around the cell at 32 px input, 4 × 64 samples, a higher learning rate.
        e2e=E2ESpec(arch="resnet18", input_size=32, extent=64, epochs=4, samples_per_epoch=64, batch_size=32,
                    lr=1e-3, patience=4, pretrained="none"),
    ),
}
