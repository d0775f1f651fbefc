"""Annotation formats behind one registry and one signature: ``load(path, images_dir, preset) -> Dataset``.

Every module in this package that defines ``FORMAT`` (a :class:`~mitoviz.data.formats.base.Format`)
is a format; adding one is adding a module. :func:`detect_format` tries them in priority order.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from mitoviz.data.formats.base import Format
from mitoviz.errors import DataError


def _discover() -> dict[str, Format]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if isinstance(getattr(module, "FORMAT", None), Format):
            found.append(module.FORMAT)
    return {f.name: f for f in sorted(found, key=lambda f: (f.priority, f.name))}


FORMATS: dict[str, Format] = _discover()


def detect_format(path: Path) -> Format:
    """The format of an annotation file (or a folder of class folders); DataError when none fits."""
    path = Path(path)
    if path.is_file() and path.name.lower() == "datasets_xvalidation.csv":
        raise DataError(f"{path} is the MIDOG++ slide table, not an annotation file.",
                        "Point at MIDOG++.json (the slide table beside it is read automatically).")
    for fmt in FORMATS.values():
        if fmt.sniff(path):
            return fmt
    raise DataError(
        f"{path} is not a known annotation format ({', '.join(f.title for f in FORMATS.values())}).",
        "Point at a MIDOG JSON, a SlideRunner database, a cell or patch table, or a folder of class folders.",
    )


__all__ = ["FORMATS", "Format", "detect_format"]
