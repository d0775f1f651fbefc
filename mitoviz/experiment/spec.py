"""The experiment spec: what to compare, on which data, with which labels and splits.

The same object comes from a TOML file (``python -m mitoviz run spec.toml``), from the
New-benchmark page, or from Python. Every field is type-checked here, before anything is queued or
computed; checks that need the data or the machine (domain columns, weights) happen at planning time
(:mod:`mitoviz.experiment.plan`). Presets reproduce the published protocols.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mitoviz.data.splits import SPLIT_MODES, Budget
from mitoviz.errors import SpecError
from mitoviz.train.method import TrainMethod

PROTOCOL_KINDS = {
    "pooled": "train on all domains, test on every domain",
    "cross": "train on one domain, test on every domain (the train × test matrix)",
    "lodo": "leave one domain out: train on the others, test on it",
}
MISSING_IMAGES = ("error", "drop")
_AXIS = re.compile(r"^[A-Za-z_][A-Za-z0-9_ -]*$")


def parse_protocol(text: str) -> tuple[str, str | None]:
    """``pooled`` | ``cross:<column>`` | ``lodo:<column>``; the column must be a domain column of the data."""
    kind, _, axis = str(text).partition(":")
    if kind not in PROTOCOL_KINDS or (kind == "pooled") != (axis == "") or (axis and not _AXIS.match(axis)):
        raise SpecError(
            f"Unknown protocol {text!r}.",
            "Use pooled, cross:<column> or lodo:<column> with a domain column such as scanner, tumor_type, "
            "species, source or centre.",
        )
    return kind, axis or None


# ------------------------------------------------------------------------------ field checking


def _as_list(key: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    raise SpecError(f"`{key}` must be a list, got {type(value).__name__} {value!r}.", f"Write e.g. {key} = [...].")


def _strings(key: str, value: Any) -> tuple[str, ...]:
    items = _as_list(key, value)
    bad = [v for v in items if not isinstance(v, str) or not v.strip()]
    if bad:
        raise SpecError(f"`{key}` must list names (text), but has {bad!r}.", f'Write e.g. {key} = ["name"].')
    return tuple(v.strip() for v in items)


def _whole(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise SpecError(f"`{key}` has a bad value: {value!r} is not a whole number.", f"Write whole numbers for {key}.")
    return int(value)


def _number(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SpecError(f"`{key}` must be a number between {low} and {high}, got {value!r}.", f"Fix {key}.")
    return float(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"`{key}` must be true or false, got {value!r}.", f"Write {key} = true or {key} = false.")
    return value


def _choice(key: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise SpecError(f"`{key}` must be one of {', '.join(options)}, got {value!r}.", f"Fix {key}.")
    return value


def _table(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"`{key}` must be a table ({{...}}), got {type(value).__name__} {value!r}.",
                        f"Write [{key}] followed by its fields, or leave it out.")
    return value


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
    folds: int = 0  # > 0: k-fold cross-validation inside the training part (replicates = folds)
    protocols: tuple[str, ...] = ("pooled",)
    test_datasets: tuple[str, ...] = ()  # external test sets: tested by every fit, never trained on
    patch_size: int = 224
    mpp: float | None = None
    on_budget_overflow: str = "error"
    strict: bool = False  # refuse rows a loader had to adjust or skip instead of reporting them
    missing_images: str = "error"  # "drop": leave out cells whose image file is missing (reported)
    trained: tuple[TrainMethod, ...] = ()  # the end-to-end CNN, LoRA and full fine-tuning (mitoviz.train)
    layers: dict[str, Any] = field(default_factory=dict)  # encoder → block numbers or "all": embeddings by depth
    classifier_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    projection: str = "umap"

    def __post_init__(self) -> None:
        if not self.datasets:
            raise SpecError("The experiment names no data set.", "Add at least one to `datasets`.")
        if not self.encoders and not self.trained:
            raise SpecError("The experiment has neither encoders nor a trained method.",
                            "Add an encoder, or a [[trained]] table (e.g. preset = \"cpu-cnn\").")
        if not self.budgets:
            raise SpecError("The experiment has no label budgets.", "Add e.g. budgets = [10, 100] or ['1%', '10%'].")
        if not self.seeds:
            raise SpecError("The experiment has no seeds.", "Add e.g. seeds = [0, 1, 2].")
        if not self.protocols:
            raise SpecError("The experiment has no protocols.", 'Add e.g. protocols = ["pooled", "cross:scanner"].')
        if self.split not in SPLIT_MODES:
            raise SpecError(f"Unknown split mode {self.split!r}.", f"Use one of {', '.join(SPLIT_MODES)}.")
        _number("test_fraction", self.test_fraction, 0.01, 0.99)
        if self.folds and self.split == "fmc":
            raise SpecError("folds and the published (fmc) split do not combine.", "Choose one of them.")
        if self.folds and (self.folds < 2 or len(self.seeds) != 1):
            raise SpecError(f"folds = {self.folds} needs folds ≥ 2 and exactly one seed (the fold shuffle's); "
                            f"got seeds {list(self.seeds)}.", "Use e.g. folds = 5 with seeds = [42].")
        if not 16 <= self.patch_size <= 4096:
            raise SpecError(f"`patch_size` must lie between 16 and 4096 px, got {self.patch_size}.", "Fix patch_size.")
        if self.mpp is not None:
            _number("mpp", self.mpp, 0.05, 20.0)
        _choice("on_budget_overflow", self.on_budget_overflow, ("error", "cap"))
        _choice("missing_images", self.missing_images, MISSING_IMAGES)
        _choice("projection", self.projection, ("umap", "pca", "none"))
        for protocol in self.protocols:
            parse_protocol(protocol)
        for group in ("datasets", "encoders", "classifiers", "protocols", "test_datasets", "seeds", "budgets"):
            values = getattr(self, group)
            if len(set(values)) != len(values):
                shown = [v.label if isinstance(v, Budget) else v for v in values]
                raise SpecError(f"`{group}` lists a value twice: {shown}.", "List each once.")
        overlap = sorted(set(self.datasets) & set(self.test_datasets))
        if overlap:
            raise SpecError(f"{overlap} are both training data sets and external test sets.",
                            "An external test set must be a different data set.")
        if self.encoders and not self.classifiers:
            raise SpecError("Encoders are listed but no classifier.", "Add e.g. classifiers = ['linear-probe'].")
        ids = [m.method_id for m in self.trained]
        if len(set(ids)) != len(ids) or set(ids) & set(self.encoders):
            raise SpecError(f"Two methods share a name: {sorted(set(ids))} (encoders {list(self.encoders)}).",
                            "Give a trained method a `name`.")
        self._check_classifier_params()
        self._check_layers()

    def _check_layers(self) -> None:
        for encoder, blocks in _table("layers", self.layers).items():
            if encoder not in self.encoders:
                raise SpecError(f"`layers` names {encoder!r}, which is not in encoders {list(self.encoders)}.",
                                "Add the encoder or remove its layers.")
            if blocks != "all" and (not isinstance(blocks, list | tuple) or not blocks or any(
                    isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in blocks)):
                raise SpecError(f"`layers.{encoder}` must be \"all\" or a list of block numbers ≥ 1, got {blocks!r}.",
                                "Write e.g. layers = { uni = [6, 12, 18, 24] }.")

    def _check_classifier_params(self) -> None:
        params = _table("classifier_params", self.classifier_params)
        if not params:
            return  # (importing the classifiers costs seconds: torch and scikit-learn)
        from mitoviz.evaluate.classifiers import make_classifier

        for name, values in params.items():
            if name not in self.classifiers:
                raise SpecError(f"`classifier_params` names {name!r}, which is not in classifiers "
                                f"{list(self.classifiers)}.", "Remove it or add the classifier.")
            make_classifier(name, **_table(f"classifier_params.{name}", values))  # raises on unknown parameters

    # --- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["budgets"] = [b.label for b in self.budgets]
        data["trained"] = [m.to_dict() for m in self.trained]
        data["layers"] = {k: v if v == "all" else list(v) for k, v in self.layers.items()}
        for key in ("datasets", "encoders", "classifiers", "seeds", "protocols", "test_datasets"):
            data[key] = list(data[key])
        return data

    def spec_hash(self) -> str:
        """Identity of what would be computed (the name is a label, not part of it)."""
        data = self.to_dict()
        data.pop("name")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Any) -> ExperimentSpec:
        data = dict(_table("experiment", data))
        preset = data.pop("preset", None)
        base = PRESETS[_preset_name(preset)].to_dict() if preset else {}
        base.update(data)
        known = {f.name for f in fields(cls)}
        legacy_e2e = base.pop("e2e", None)
        unknown = sorted(set(base) - known)
        if unknown:
            raise SpecError(f"Unknown experiment field(s) {unknown}.", f"Known fields: {', '.join(sorted(known))}.")
        args = dict(base)
        names = _strings("name", args.get("name", "experiment"))
        if len(names) != 1:
            raise SpecError(f"`name` must be one text, got {args.get('name')!r}.", 'Write e.g. name = "My benchmark".')
        args["name"] = names[0]
        args["budgets"] = tuple(Budget.parse(b) for b in _as_list("budgets", base.get("budgets", [])))
        trained = [_table("trained", t) for t in _as_list("trained", base.get("trained", []))]
        if legacy_e2e is not None:  # `[e2e]`: the end-to-end CNN, from the published recipe
            trained.insert(0, {"preset": "fmc-cnn", **_table("e2e", legacy_e2e)})
        args["trained"] = tuple(TrainMethod.from_dict(t) for t in trained)
        if "layers" in args:
            args["layers"] = dict(_table("layers", args["layers"]))
        for key in ("datasets", "encoders", "classifiers", "protocols", "test_datasets"):
            if key in args:
                args[key] = _strings(key, args[key]) if args[key] != [] else ()
        if "seeds" in args:
            args["seeds"] = tuple(_whole("seeds", s) for s in _as_list("seeds", args["seeds"]))
        for key in ("patch_size", "folds"):
            if key in args:
                args[key] = _whole(key, args[key])
        if args.get("mpp") in ("", 0):
            args["mpp"] = None
        if "strict" in args:
            args["strict"] = _flag("strict", args["strict"])
        if "classifier_params" in args:
            args["classifier_params"] = {k: dict(_table(f"classifier_params.{k}", v))
                                         for k, v in _table("classifier_params", args["classifier_params"]).items()}
        try:
            return cls(**args)
        except TypeError as exc:
            raise SpecError(f"The experiment description is malformed: {exc}.", "See examples/ for the fields.") from exc

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


def _preset_name(name: Any) -> str:
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
        split="fmc",
        protocols=("pooled", "cross:tumor_type"),
        trained=(TrainMethod.fmc_cnn("resnet50"),),
    ),
    "ammeling2025": ExperimentSpec(
        name="Ammeling et al. 2025 protocol (LoRA)",
        datasets=("midogpp",),
        encoders=("uni", "virchow2", "h-optimus-0", "prov-gigapath"),
        budgets=tuple(Budget("fraction", f) for f in (0.001, 0.01, 0.1, 1.0)),
        classifiers=("linear-probe",),
        seeds=(42, 43, 44, 45, 46),
        split="fmc",
        protocols=("pooled", "cross:tumor_type"),
        trained=tuple(TrainMethod.fmc_lora(e) for e in ("uni", "virchow2", "h-optimus-0", "prov-gigapath")),
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
    "amibr-benchmark": ExperimentSpec(
        name="AMi-Br benchmark protocol",
        datasets=("amibr",),
        encoders=("uni", "uni2-h", "virchow", "virchow2", "prov-gigapath", "h-optimus-0", "h-optimus-1"),
        budgets=(Budget("fraction", 1.0),),
        classifiers=("linear-probe",),
        seeds=(42,),
        folds=5,
        split="predefined",
        test_datasets=("atnorm-br", "atnorm-md"),
        protocols=("pooled",),
        patch_size=128,
        trained=(*(TrainMethod.amibr_lora(e) for e in ("uni", "uni2-h", "virchow", "virchow2", "prov-gigapath",
                                                       "h-optimus-0", "h-optimus-1")), TrainMethod.amibr_e2e()),
    ),
    "demo": ExperimentSpec(  # cheapest first, so the first curves appear within seconds
        name="Synthetic demo",
        datasets=("mitoviz-demo",),
        encoders=("handcrafted", "random-vits16", "random-resnet50"),
        budgets=tuple(Budget("per_class", n) for n in (2, 8, 24, 64)),
        classifiers=("logreg",),
        seeds=(0, 1, 2),
        protocols=("pooled", "cross:scanner"),
        patch_size=96,
        on_budget_overflow="cap",
        trained=(TrainMethod.cpu_cnn(),),  # a CPU-sized CNN: about a second per fit on 2 cores
        projection="pca",  # UMAP's first call compiles for ~25 s: too slow for a two-minute demo
    ),
}
