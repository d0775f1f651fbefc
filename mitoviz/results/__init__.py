"""The results store: one folder per run, append-only parquet tables, a JSON manifest.

``store`` (runs and their tables), ``owner`` (which process runs a run, and whether it still lives),
``schema`` (what a manifest and each table must look like), ``bundles`` (export and a guarded import),
``faults`` (full disks, refused permissions, damaged files, and the quarantine they are moved into).
"""

from mitoviz.results.bundles import BUNDLE_SUFFIX
from mitoviz.results.store import (
    CONTEXT_EXTENT,
    CONTEXT_PX,
    PATCH_PX,
    ResultsStore,
    Run,
    environment,
    new_run_id,
)

__all__ = [
    "BUNDLE_SUFFIX",
    "CONTEXT_EXTENT",
    "CONTEXT_PX",
    "PATCH_PX",
    "ResultsStore",
    "Run",
    "environment",
    "new_run_id",
]
