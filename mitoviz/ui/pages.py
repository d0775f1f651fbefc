"""The app's pages, declared once: ``app.py``'s navigation, every page link and switch, and the tests use this list.

A page is one file under ``views/``; adding one is adding its file and one line to :data:`PAGES`. Nothing else in
the app writes a page's path or URL: links and switches name a :class:`PageSpec` (``pages.JOBS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, NoReturn

import streamlit as st

VIEWS = "views"  # beside app.py; not pages/, which would put Streamlit in its legacy multipage mode


@dataclass(frozen=True)
class PageSpec:
    """One page: its file in ``views/``, title, Material icon and navigation section."""

    file: str
    title: str
    icon: str
    section: str
    default: bool = False

    @property
    def path(self) -> str:
        """The script path relative to ``app.py`` (what AppTest's ``switch_page`` takes)."""
        return f"{VIEWS}/{self.file}"

    @property
    def url_path(self) -> str:
        """The page's address under the server (``/jobs``); empty for the default page."""
        return "" if self.default else PurePosixPath(self.file).stem

    @property
    def icon_name(self) -> str:
        return f":material/{self.icon}:"

    def page(self) -> Any:
        """The ``st.Page`` of this page (what navigation, page links and switches take)."""
        return st.Page(self.path, title=self.title, icon=self.icon_name, default=self.default)


HOME = PageSpec("home.py", "Home", "home", "Start", default=True)
NEW = PageSpec("new_benchmark.py", "New benchmark", "add_circle", "Start")
JOBS = PageSpec("jobs.py", "Jobs", "pending_actions", "Start")
CURVES = PageSpec("curves.py", "Accuracy vs labels", "show_chart", "Results")
DOMAINS = PageSpec("domains.py", "Domain shift", "grid_on", "Results")
EMBEDDINGS = PageSpec("embeddings.py", "Embedding maps", "scatter_plot", "Results")
FAILURES = PageSpec("failures.py", "Failure cases", "image_search", "Results")
RUNS = PageSpec("runs.py", "Runs & bundles", "inventory_2", "Manage")

PAGES: tuple[PageSpec, ...] = (HOME, NEW, JOBS, CURVES, DOMAINS, EMBEDDINGS, FAILURES, RUNS)
RESULTS: tuple[PageSpec, ...] = tuple(p for p in PAGES if p.section == "Results")


def sections() -> dict[str, list[PageSpec]]:
    """Pages by navigation section, in declaration order."""
    out: dict[str, list[PageSpec]] = {}
    for page in PAGES:
        out.setdefault(page.section, []).append(page)
    return out


def navigation() -> Any:
    """``st.navigation`` over every declared page; returns the page to run."""
    return st.navigation({section: [p.page() for p in group] for section, group in sections().items()})


def link(page: PageSpec, label: str | None = None, icon: str | None = None, *, container: Any = st,
         **options: Any) -> None:
    """A link to ``page`` (``query_params``, ``help``, ``width`` … pass through to ``st.page_link``)."""
    container.page_link(page.page(), label=label or page.title, icon=icon or page.icon_name, **options)


def switch(page: PageSpec, query_params: Mapping[str, str] | None = None) -> NoReturn:
    """Go to ``page`` now (the rest of this script run is skipped)."""
    st.switch_page(page.page(), query_params=dict(query_params or {}))
    raise AssertionError("st.switch_page returned")  # it raises; keeps type checkers calm
