"""Errors that reach users.

Every error a user can see is a :class:`WorkbenchError`: its message says what went wrong and, where there is
one, what to do about it. Messages never contain dataset values (cell contents, row text): in a privacy tool an
error message is a leakage channel. They may name files, columns, line numbers, byte offsets and encodings.
"""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """Base class for errors whose message is fit to show to a user as it is."""


class DatasetError(WorkbenchError):
    """A dataset file could not be loaded.

    Parameters
    ----------
    path:
        The file the problem is about.
    problem:
        One sentence, without dataset values, that says what is wrong and, where possible, how to fix it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ProjectError(WorkbenchError):
    """A project folder or its store could not be created, opened or updated."""


class JobCancelled(WorkbenchError):  # noqa: N818 - reads better at the raise site
    """Raised inside a job when its cancel token was set; the job ends as cancelled, not failed."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)
