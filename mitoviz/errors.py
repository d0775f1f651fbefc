"""Errors a user can cause and act on.

Every message says what is wrong and what to do. The UI shows it, the CLI prints it
without a traceback, a job records it.
"""

from __future__ import annotations


class MitovizError(Exception):
    """Base class: ``what`` went wrong and how to ``fix`` it."""

    def __init__(self, what: str, fix: str = "") -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what} {fix}".strip())

    def to_dict(self) -> dict[str, str]:
        return {"type": type(self).__name__, "what": self.what, "fix": self.fix}


class DataError(MitovizError):
    """A data set file is missing, malformed or inconsistent."""


class SchemaError(DataError):
    """A CellTable does not follow the schema."""


class PatchError(DataError):
    """A slide or image cannot be read."""


class WeightsError(MitovizError):
    """Encoder weights are missing, unsafe or do not fit the architecture."""


class SpecError(MitovizError):
    """An experiment, encoder or dataset description is invalid."""


class BudgetError(SpecError):
    """A label budget cannot be drawn from the data."""


class StorageError(MitovizError):
    """The home folder, cache or results store cannot be written or read."""


class JobError(MitovizError):
    """A background job cannot be submitted or controlled."""


class Cancelled(Exception):
    """Raised inside a running job when the user cancelled it (not an error)."""
