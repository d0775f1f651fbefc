"""Text for a terminal: tables and paragraphs that fit its width (80-100 columns and up)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

GAP = "  "
MIN_COLUMN = 8


def width() -> int:
    """The terminal's width (``COLUMNS`` wins), at least 60 columns."""
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(1, size - 1)] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], keep: Sequence[str] = ()) -> str:
    """Rows as aligned columns no wider than the terminal; the widest columns are shortened with '…',
    except those in ``keep`` (ids people copy)."""
    if not rows:
        return "(none)"
    total = width()
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    sizes = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    budget = total - len(GAP) * (len(columns) - 1)
    fixed = [c in keep for c in columns]
    cap = max(sizes)

    def fitted(cap: int) -> list[int]:
        return [s if keep_it else min(s, cap) for s, keep_it in zip(sizes, fixed, strict=True)]

    while sum(fitted(cap)) > budget and cap > MIN_COLUMN:  # shorten the widest columns alike
        cap -= 1
    sizes = fitted(cap)
    lines = [GAP.join(_cut(c, s).ljust(s) for c, s in zip(columns, sizes, strict=True))]
    lines += [GAP.join(_cut(v, s).ljust(s) for v, s in zip(row, sizes, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def paragraph(text: str, indent: str = "  ", hang: str = "    ") -> str:
    """One logical line wrapped to the terminal, continuation lines indented further."""
    return textwrap.fill(text, width=width(), initial_indent=indent, subsequent_indent=hang,
                         break_on_hyphens=False, break_long_words=True)


def counts(mapping: dict[str, int]) -> str:
    """``a 12 · b 3`` with thousands separators."""
    return " · ".join(f"{k} {v:,}" for k, v in mapping.items())
