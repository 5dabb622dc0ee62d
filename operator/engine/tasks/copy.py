"""The copy task (Porch's `edit`): a new revision of the same package with exactly the source's files.

The operator checks that the source is a published revision of the same package in the same repository
(`lifecycle.check_copy_source`); the task itself only copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import InvalidSpec


@dataclass(frozen=True)
class CopyTask:
    """The files of the source revision."""

    source: PackageResources


async def apply(working_set: PackageResources, task: CopyTask) -> PackageResources:
    """The source's files; the working set is replaced, not merged."""
    del working_set  # a copy starts from the source alone
    if KPTFILE not in task.source:
        raise InvalidSpec("The source revision has no Kptfile at its root; it is not a package.")
    return task.source
