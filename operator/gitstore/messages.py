"""Porch's commit messages: the human first line and the `kpt:` JSON annotation lines.

Writing follows Porch byte for byte where it matters to readers (compact JSON, keys in the order package,
workspaceName, revision, task; `<`, `>` and `&` escaped as Go does). Reading is as tolerant as Porch: any
number of `kpt:` lines, surrounding whitespace ignored, lines that are not a JSON object skipped (and counted,
so callers can log them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

FIRST_CLASS_TASKS = frozenset({"init", "clone", "edit", "upgrade"})
CREATION_TASKS = frozenset({"init", "clone"})

_HUMAN_LINES = {
    "init": "Creating new empty revision",
    "clone": "Creating new revision by cloning",
    "edit": "Creating new revision by copying previous revision",
    "upgrade": "Upgrading revision",
    "render": "Rendering package",
    "eval": "Rendering package",
    "patch": "Applying patch to package",
}


@dataclasses.dataclass(frozen=True)
class Annotation:
    """One parsed `kpt:` line."""

    package: str = ""
    workspace: str = ""
    revision: str = ""
    task: Mapping[str, Any] | None = None

    @property
    def task_type(self) -> str:
        """The task's `type`, or "" without a task."""
        if self.task is None:
            return ""
        value = self.task.get("type", "")
        return value if isinstance(value, str) else ""

    @property
    def workspace_key(self) -> str:
        """The workspace this line belongs to; old Porch wrote it in `revision` with no `workspaceName`."""
        return self.workspace or self.revision


def human_line(task: Mapping[str, Any] | None) -> str:
    """Porch's first message line for a draft commit made by `task`."""
    if task is None:
        return "Intermediate commit"
    task_type = task.get("type", "")
    if not isinstance(task_type, str) or not task_type:
        return "Intermediate commit"
    return _HUMAN_LINES.get(task_type, f"Intermediate commit: {task_type}")


def draft_message(*, path: str, workspace: str, task: Mapping[str, Any] | None) -> str:
    """The message of a commit on a draft branch."""
    annotation = Annotation(package=path, workspace=workspace, revision="0", task=task)
    return annotate(human_line(task) + "\n", annotation)


def approval_message(*, path: str, workspace: str, revision: int) -> str:
    """The message of the commit that publishes revision `revision` onto the registered branch."""
    annotation = Annotation(package=path, workspace=workspace, revision=str(revision))
    return annotate(f"Approving package revision {path}/{revision}", annotation)


def annotate(message: str, annotation: Annotation) -> str:
    """Append the `kpt:` line to a message, as Porch's AnnotateCommitMessage does."""
    return f"{message}\n\nkpt:{encode(annotation)}\n"


def encode(annotation: Annotation) -> str:
    """The JSON of an annotation: compact, Go's key order and omitempty, Go's HTML escaping."""
    body: dict[str, Any] = {}
    if annotation.package:
        body["package"] = annotation.package
    if annotation.workspace:
        body["workspaceName"] = annotation.workspace
    if annotation.revision:
        body["revision"] = annotation.revision
    if annotation.task is not None:
        body["task"] = annotation.task
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def parse(message: str) -> tuple[list[Annotation], int]:
    """Every valid `kpt:` annotation in a commit message, and how many `kpt:` lines were invalid."""
    found: list[Annotation] = []
    invalid = 0
    for raw in message.split("\n"):
        line = raw.strip()
        if not line.startswith("kpt:"):
            continue
        annotation = _decode(line[len("kpt:") :])
        if annotation is None:
            invalid += 1
        else:
            found.append(annotation)
    return found, invalid


def _decode(text: str) -> Annotation | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    # Go leaves a string field empty for a missing key or a JSON null.
    fields = {key: body.get(key) or "" for key in ("package", "workspaceName", "revision")}
    if not all(isinstance(value, str) for value in fields.values()):
        return None
    task = body.get("task")
    if task is not None and not isinstance(task, dict):
        return None
    return Annotation(
        package=fields["package"], workspace=fields["workspaceName"], revision=fields["revision"], task=task
    )
