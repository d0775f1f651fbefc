"""Finding data sets on disk and loading them: a preset name or a path in, a :class:`Dataset` out.

Folder and file names are matched case-insensitively under every data root; a preset is found by its
annotation files, then by its file patterns (a SlideRunner-only folder), then, for class-folder sets,
by the folder itself.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mitoviz.config import Settings, load_settings
from mitoviz.data.cells import Dataset, counts
from mitoviz.data.formats import Format, detect_format
from mitoviz.data.formats.class_folders import MIN_CLASSES, class_folders
from mitoviz.data.ingest import check_strict, describe_rows
from mitoviz.data.patches import SLIDE_SUFFIXES
from mitoviz.data.presets import DatasetPreset, get_preset, list_presets
from mitoviz.errors import DataError

_ANNOTATION_SUFFIXES = (".json", ".sqlite", ".sqlite3", ".db", ".csv")
_SKIP_FILES = ("datasets_xvalidation.csv", "amibr_train_split.csv")


@dataclass
class PresetStatus:
    """Whether a preset's files are on disk, and what to do when they are not."""

    name: str
    title: str
    found: bool
    path: Path | None = None
    images_dir: Path | None = None
    missing: list[str] = field(default_factory=list)
    how_to_get: str = ""
    synthetic: bool = False

    @property
    def ready(self) -> bool:
        """Annotations and the image folder are both there."""
        return self.found and not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "found": self.found, "ready": self.ready,
                "path": str(self.path) if self.path else None,
                "images_dir": str(self.images_dir) if self.images_dir else None, "missing": list(self.missing),
                "how_to_get": self.how_to_get, "synthetic": self.synthetic}


def _children(folder: Path) -> dict[str, Path]:
    """Entries of a folder by lower-case name (empty when it is not a folder)."""
    try:
        return {p.name.lower(): p for p in folder.iterdir()}
    except OSError:
        return {}


def _search_dirs(preset: DatasetPreset, settings: Settings) -> list[Path]:
    """Where a preset may live: each data root's matching sub-folders (any case), their ``databases/``, the root."""
    dirs: list[Path] = [settings.demo_dir] if preset.synthetic else []
    wanted = {f.lower() for f in preset.folders}
    for root in settings.all_data_roots():
        entries = _children(root)
        for folder in [*(p for name, p in entries.items() if name in wanted and p.is_dir()), root]:
            for candidate in (folder, _children(folder).get("databases")):
                if candidate is not None and candidate.is_dir() and candidate not in dirs:
                    dirs.append(candidate)
    return dirs


def _annotation_in(folder: Path, preset: DatasetPreset) -> Path | None:
    entries = _children(folder)
    for name in preset.annotation_files:
        if name.lower() in entries and entries[name.lower()].is_file():
            return entries[name.lower()]
    for name, path in sorted(entries.items()):
        if path.is_file() and name not in _SKIP_FILES and any(fnmatch.fnmatch(name, p) for p in preset.file_patterns):
            return path
    return None


def _images_dir(preset: DatasetPreset, annotation: Path) -> Path | None:
    for base in (annotation.parent, annotation.parent.parent):
        folder = _children(base).get(preset.image_folder.lower()) if preset.image_folder else None
        if folder is not None and folder.is_dir():
            return folder
    return None


def _holds_slides(folder: Path) -> bool:
    return any(p.suffix.lower() in SLIDE_SUFFIXES for p in _children(folder).values())


def _how_to_get(preset: DatasetPreset, settings: Settings) -> str:
    roots = ", ".join(str(r) for r in settings.all_data_roots())
    if preset.synthetic:
        return (f"Generate the synthetic demo into {settings.demo_dir} (the app's demo button or "
                "`python -m mitoviz demo-data` do this).")
    return (f"Download it from {preset.download_url}, then place {preset.point_at} under a data root ({roots}), "
            "or add its folder to MITOVIZ_DATA_ROOTS.")


def find_preset(preset: str | DatasetPreset, settings: Settings) -> PresetStatus:
    """Look for a preset's annotation file and image folder under the data roots (no parsing)."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    status = PresetStatus(preset.name, preset.title, False, how_to_get=_how_to_get(preset, settings),
                          synthetic=preset.synthetic)
    dirs = _search_dirs(preset, settings)
    for folder in dirs:
        annotation = _annotation_in(folder, preset)
        if annotation is not None:
            status.found, status.path = True, annotation
            status.images_dir = _images_dir(preset, annotation)
            if status.images_dir is None and _holds_slides(annotation.parent):
                status.images_dir = annotation.parent  # slides beside the annotation file
            if status.images_dir is None:
                status.missing.append(f"{preset.image_folder}/ (image folder beside {annotation.name})")
            return status
    if not preset.annotation_files:  # a folder of class folders
        named = {f.lower() for f in preset.folders}
        for folder in dirs:
            # without an image folder name the preset's own folder holds the classes (never a bare data root)
            root = (_children(folder).get(preset.image_folder.lower()) if preset.image_folder
                    else folder if folder.name.lower() in named else None)
            if root is not None and root.is_dir() and len(class_folders(root)) >= MIN_CLASSES:
                status.found, status.path, status.images_dir = True, root, root
                return status
        status.missing = [f"{preset.image_folder or 'a folder'}/<class>/<image> (class folders)"]
        return status
    status.missing = [" or ".join(preset.annotation_files), f"{preset.image_folder}/ (image folder)"]
    return status


def dataset_status(settings: Settings) -> list[PresetStatus]:
    """The status of every registered preset, in registration order."""
    return [find_preset(name, settings) for name in list_presets()]


def match_preset(path: str | os.PathLike[str]) -> DatasetPreset | None:
    """The preset whose annotation file names or patterns match this file (or, for a folder of class
    folders, whose folder names match it), if any."""
    name = Path(path).name.lower()
    for preset in map(get_preset, list_presets()):
        if Path(path).is_dir():
            if not preset.annotation_files and name in {f.lower() for f in (*preset.folders, preset.image_folder)}:
                return preset
        elif name in {f.lower() for f in preset.annotation_files} or any(
                fnmatch.fnmatch(name, p) for p in preset.file_patterns):
            return preset
    return None


def _annotation_in_folder(folder: Path) -> Path:
    for sub in ("", "databases"):
        for preset in map(get_preset, list_presets()):
            found = _annotation_in(folder / sub, preset) if preset.annotation_files else None
            if found is not None:
                return found
    candidates = sorted(p for sub in ("", "databases") for p in _children(folder / sub).values()
                        if p.is_file() and p.suffix.lower() in _ANNOTATION_SUFFIXES and p.name.lower() not in _SKIP_FILES)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates and len(class_folders(folder)) >= MIN_CLASSES:
        return folder
    if not candidates:
        raise DataError(f"{folder} holds no annotation file (.json, .sqlite or .csv) and no class folders.",
                        "Point at the data set's folder or directly at its annotation file.")
    raise DataError(f"{folder} holds several annotation files: {[p.name for p in candidates]}.", "Point at one of them.")


@dataclass(frozen=True)
class Source:
    """What a name or path resolved to: the annotation file (or class-folder root) and how to read it."""

    path: Path
    format: Format
    preset: DatasetPreset | None
    images_dir: Path | None

    def load(self, strict: bool = False) -> Dataset:
        dataset = self.format.load(self.path, self.images_dir, self.preset)
        return check_strict(dataset) if strict else dataset


def resolve_source(name_or_path: str | os.PathLike[str], settings: Settings | None = None) -> Source:
    """Resolve a preset name or a path (file or folder) to its annotation file and format."""
    settings = settings or load_settings()
    text = os.fspath(name_or_path)
    if text in list_presets():
        status = find_preset(text, settings)
        if not status.found or status.path is None:
            roots = ", ".join(str(r) for r in settings.all_data_roots())
            raise DataError(f"Data set {text!r} ({status.title}) was not found under the data roots ({roots}).",
                            status.how_to_get)
        return Source(status.path, detect_format(status.path), get_preset(text), status.images_dir)
    path = Path(text).expanduser()
    if not path.exists():
        if os.sep not in text and "/" not in text and not path.suffix:
            get_preset(text)  # raises SpecError listing the known presets
        raise DataError(f"{path} does not exist.", "Check the path, or use a preset name such as 'midogpp'.")
    target = (_annotation_in_folder(path) if path.is_dir() else path).resolve()
    return Source(target, detect_format(target), match_preset(target), None)


def load_dataset(name_or_path: str | os.PathLike[str], settings: Settings | None = None, strict: bool = False
                 ) -> Dataset:
    """Load a preset by name, or the annotation file / folder at a path (format detected)."""
    return resolve_source(name_or_path, settings).load(strict)


def inspect_path(path: str | os.PathLike[str], settings: Settings | None = None, strict: bool = False
                 ) -> dict[str, Any]:
    """Summarise a data set from its annotation file alone: counts, what was adjusted, skipped and merged,
    and the image files that are missing. Returns a JSON-able dict."""
    source = resolve_source(path, settings)
    dataset = source.load(strict)
    out: dict[str, Any] = {
        "path": str(source.path), "format": source.format.name, "preset": source.preset.name if source.preset else None,
        "dataset": dataset.name, "synthetic": dataset.synthetic, **counts(dataset.cells),
        "images": int(dataset.cells["image"].nunique()), "missing_images": list(dataset.missing_images),
        "n_missing_images": len(dataset.missing_images), "unannotated_images": list(dataset.unannotated_images),
        **dataset.report(), "adjusted_lines": describe_rows(dataset.adjusted),
        "skipped_lines": describe_rows(dataset.skipped), "notes": list(dataset.notes),
        "format_verified": source.preset.format_verified if source.preset else True,
    }
    json.dumps(out)  # fail here, not in the CLI, if anything is not JSON-able
    return out
