"""A folder of class folders: ``<root>/<class>/<image>`` (AtNorM-Br, AtNorM-MD, and generic sets).

The label is the folder name (``Atypical`` → atypical, ``Mitosis`` → mitotic figure, anything else
lower-cased). A votes table beside the folder (``AtNorM-MD_expert_votes.csv``: ``Filename, Expert_1 …
Expert_5, Majority``) becomes rater votes and agreement. There are no slide ids: each patch is its
own slide, so a slide-level split is a patch-level split here (said in the notes).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mitoviz.data import vocab
from mitoviz.data.cells import Dataset
from mitoviz.data.formats.base import IMAGE_SUFFIXES, Format, PathLike, dataset_name, fill_domains, read_csv
from mitoviz.data.ingest import Ingest, rater_columns
from mitoviz.data.vocab import clean
from mitoviz.errors import DataError

if TYPE_CHECKING:
    from mitoviz.data.presets import DatasetPreset

MIN_CLASSES = 2


def class_folders(root: Path) -> dict[str, list[Path]]:
    """Sub-folder name → its image files, for sub-folders that hold images (sorted, hidden ones skipped)."""
    out: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            out[folder.name] = images
    return out


def _votes_file(root: Path, preset: DatasetPreset | None) -> Path | None:
    names = [preset.extra_files["votes"]] if preset and "votes" in preset.extra_files else []
    names.append(f"{root.name}_expert_votes.csv")
    return next((d / n for n in names for d in (root, root.parent) if (d / n).is_file()), None)


def _votes(file: Path, names: pd.Series, labels: pd.Series, ingest: Ingest) -> dict[str, list[object]]:
    """Rater votes per image from a ``Filename, Expert_1 …, Majority`` table (matched by file name or stem)."""
    table = read_csv(file, "the expert votes table")
    cols = {c.lower(): c for c in table.columns}
    key = next((cols[c] for c in ("filename", "file", "image", "file_name") if c in cols), None)
    experts = [c for c in table.columns if re.fullmatch(r"expert[_ ]?\d+", c.lower())]
    if key is None or not experts:
        raise DataError(f"{file} needs a Filename column and Expert_N columns; found {list(table.columns)}.",
                        "Use AtNorM-MD_expert_votes.csv as published, or remove it.")
    by_name: dict[str, list[str]] = {}
    for row in table[[key, *experts]].itertuples(index=False):
        cast = [vocab.label_from_class_name(v) or clean(v).lower() for v in row[1:] if clean(v)]
        by_name[clean(row[0])] = by_name[Path(clean(row[0])).stem] = cast
    votes = [by_name.get(name) or by_name.get(Path(name).stem) or [] for name in names]
    unmatched = sum(not cast for cast in votes)
    ingest.note(f"Rater votes of {len(experts)} experts from {file.name}"
                + (f"; {unmatched} image(s) have no row there." if unmatched else "."))
    return rater_columns(votes, labels)


def load_class_folders(root: PathLike, preset: DatasetPreset | None = None, name: str | None = None) -> Dataset:
    """Load ``<root>/<class>/<image>`` patches; labels from the folder names."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of class folders.", "Point at the folder that holds one folder per class.")
    classes = class_folders(root)
    if len(classes) < MIN_CLASSES:
        raise DataError(f"{root} holds {len(classes)} class folder(s) with images ({sorted(classes)}); "
                        "a classifier needs two.", "Point at the folder whose sub-folders are the classes.")
    name = name or (preset.name if preset else dataset_name(root))
    ingest = Ingest(root)
    folder_names = pd.Series(list(classes))
    labels = dict(zip(folder_names, ingest.normalise(
        "label", folder_names, lambda v: vocab.label_from_class_name(v) or clean(v).lower()), strict=True))
    rows = [(cls, path) for cls, paths in classes.items() for path in paths]
    relative = [p.relative_to(root).with_suffix("").as_posix() for _, p in rows]
    frame = pd.DataFrame({
        "cell_id": [f"{name}:{r}" for r in relative], "dataset": name, "image": [str(p) for _, p in rows],
        "x": np.nan, "y": np.nan, "label": [labels[c] for c, _ in rows], "slide": relative, "split": "",
        "row_id": relative,
    })
    ingest.note(f"Labels from {len(classes)} class folders {sorted(classes)}; no slide ids, so each patch is its own "
                "slide and a slide-level split is a patch-level split.")
    votes_file = _votes_file(root, preset)
    if votes_file is not None:
        frame = frame.assign(**_votes(votes_file, frame["image"].map(lambda p: Path(p).name), frame["label"], ingest))
    frame = fill_domains(ingest, frame, preset, frame["image"].map(lambda p: Path(p).name))
    return ingest.finish(name, frame)


FORMAT = Format(
    name="class_folders",
    title="Folder of class folders (<class>/<image>: AtNorM-Br, AtNorM-MD)",
    sniff=lambda path: path.is_dir() and len(class_folders(path)) >= MIN_CLASSES,
    load=lambda path, images_dir, preset: load_class_folders(images_dir or path, preset),
    priority=90,
)
