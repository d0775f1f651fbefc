"""What a run's manifest and tables must look like, checked before anything is shown or imported.

A manifest is a JSON object whose known fields have the types the pages use; a table is a parquet file
whose columns the pages read exist with the right types, and whose columns hold only plain values
(numbers, text, booleans): no binary blobs, nested or extension types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

STATUSES = ("running", "complete", "failed", "cancelled")
NUMBER = (int, float)
NONE = type(None)

# field: (allowed types, required)
MANIFEST_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((str,), True),
    "status": ((str,), True),
    "spec": ((dict,), True),
    "run_id": ((str,), False),
    "created": ((str,), False),
    "finished": ((str,), False),
    "spec_hash": ((str,), False),
    "synthetic": ((bool,), False),
    "positive_label": ((str,), False),
    "n_fits_done": ((int,), False),
    "n_fits_planned": ((int,), False),
    "seconds": ((*NUMBER, NONE), False),
    "imported_from": ((str,), False),
    "imported": ((str,), False),
    "owner": ((dict, NONE), False),
    "heartbeat": ((*NUMBER, NONE), False),
    "warnings": ((list,), False),
    "datasets": ((list,), False),
    "timings": ((dict,), False),
    "versions": ((dict,), False),
    "error": ((str, NONE), False),
    "device": ((str,), False),
    "bundle_images": ((dict,), False),
}
SPEC_FIELDS: dict[str, tuple[type, ...]] = {
    "datasets": (list,), "encoders": (list,), "classifiers": (list,), "patch_size": (int,), "mpp": (*NUMBER, NONE),
}

# table kind: {column: type class}; "int", "float", "str", "bool"
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "cells": {"cell": "int", "cell_id": "str", "label": "str", "image": "str"},
    "fits": {"fit_id": "str", "method": "str", "kind": "str", "classifier": "str", "protocol": "str",
             "train_domain": "str", "budget": "str", "budget_kind": "str", "budget_value": "float", "seed": "int"},
    "metrics": {"fit_id": "str", "test_axis": "str", "test_domain": "str"},
    "predictions": {"fit_id": "str", "cell": "int", "prob": "float"},
    "projections": {"cell": "int", "u": "float", "v": "float"},
}


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # a bool is an int to Python, never to a manifest
    return isinstance(value, types)


def manifest_problems(manifest: Any) -> list[str]:
    """Everything wrong with a parsed manifest (empty when it is fine)."""
    if not isinstance(manifest, dict):
        return [f"the manifest is a JSON {type(manifest).__name__}, not an object"]
    problems = []
    for name, (types, required) in MANIFEST_FIELDS.items():
        if name not in manifest:
            if required:
                problems.append(f"field {name!r} is missing")
        elif not _type_ok(manifest[name], types):
            problems.append(f"field {name!r} is a {type(manifest[name]).__name__}")
    if isinstance(manifest.get("status"), str) and manifest["status"] not in STATUSES:
        problems.append(f"status {manifest['status']!r} is none of {', '.join(STATUSES)}")
    spec = manifest.get("spec")
    if isinstance(spec, dict):
        for name, types in SPEC_FIELDS.items():
            if name in spec and not _type_ok(spec[name], types):
                problems.append(f"spec field {name!r} is a {type(spec[name]).__name__}")
    return problems


PLAIN_TYPES = ((pa.types.is_integer, "int"), (pa.types.is_floating, "float"), (pa.types.is_string, "str"),
               (pa.types.is_large_string, "str"), (pa.types.is_boolean, "bool"), (pa.types.is_null, "null"),
               (pa.types.is_timestamp, "time"), (pa.types.is_date, "time"))


def _kind(t: pa.DataType) -> str | None:
    """The plain kind of an Arrow type (a dictionary counts as its values), None for anything else."""
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    return next((name for test, name in PLAIN_TYPES if test(t)), None)


def schema_problems(schema: pa.Schema, kind: str | None) -> list[str]:
    """Columns of the wrong or of an unsafe type, and columns the pages need that are missing."""
    problems = []
    types = {f.name: _kind(f.type) for f in schema}
    for name, field in zip(schema.names, schema, strict=True):
        if types[name] is None:
            problems.append(f"column {name!r} has type {field.type}, not a plain value")
    for name, want in TABLE_COLUMNS.get(kind or "", {}).items():
        got = types.get(name, "missing")
        if got == "missing":
            problems.append(f"column {name!r} is missing")
        elif got not in (want, "null") and not (want == "float" and got == "int"):
            problems.append(f"column {name!r} holds {got}, not {want}")
    return problems


def table_kind(rel: Path) -> str | None:
    """Which schema a table under a run folder follows: ``fits/x.parquet`` → fits, ``cells.parquet`` → cells."""
    rel = Path(rel)
    kind = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    return kind if kind in TABLE_COLUMNS else None


def table_problems(path: Path, rel: Path, full: bool = True) -> list[str]:
    """Check one parquet file: its schema, and with ``full`` that every page of it reads."""
    try:
        schema = pq.read_schema(path)
        problems = schema_problems(schema, table_kind(rel))
        if full and not problems:
            pq.read_table(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        return [f"cannot be read ({exc})"]
    return problems
