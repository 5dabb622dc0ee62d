"""The write protocol shared by every operation that changes the remote: plan, push atomically, retry.

An operation is a `build` coroutine that looks at the mirror's current refs, writes the objects it needs
(loose objects only: nothing visible yet) and returns a `Plan`: the ref updates with the values each ref must
still have. `apply()` pushes the plan in one atomic push (compare-and-swap on every ref, never forced). When
the remote refuses because a ref moved, it fetches and calls `build` again on the fresh refs, so commits
are rebuilt on the current branch head and revision numbers are recomputed; after the last attempt the
rejection propagates. `build` raises NotFound, Conflict or InvalidSpec before anything is pushed, so a
refused request never writes a ref.

Everything runs under the mirror's lock: in one process, operations on a repository are serialised; against
other writers (other processes, people) the atomic push is the arbiter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from porch_operator.errors import InvalidSpec, StorePushRejected
from porch_operator.gitstore import credentials as creds
from porch_operator.gitstore import objects, paths, refs
from porch_operator.gitstore.mirrors import Mirror, RefUpdate
from porch_operator.gitstore.revisions import Signature

R = TypeVar("R")

# Porch's identity, which it uses as committer of every commit.
PORCH_COMMITTER = Signature(name="Package Orchestration Service", email="porch@kpt.dev")


@dataclasses.dataclass(frozen=True)
class Target:
    """The repository a handle writes to, and how."""

    mirror: Mirror
    branch: str
    directory: str
    credentials: creds.Credentials
    committer: Signature
    time_limit: float | None
    attempts: int
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]


@dataclasses.dataclass
class Plan(Generic[R]):
    """What one attempt of an operation wants pushed, and what to return when it is."""

    updates: list[RefUpdate]
    commits: list[objects.Commit]
    # (commit, package path) → package tree, for what this plan writes (saves a lookup afterwards).
    package_trees: dict[tuple[str, str], str]
    finish: Callable[[], Awaitable[R]]


async def apply(target: Target, build: Callable[[], Awaitable[Plan[R]]]) -> R:
    """Run an operation: build, push atomically, retry on rejection after a fetch. Call under the lock."""
    mirror = target.mirror
    for attempt in range(1, target.attempts + 1):
        plan = await build()
        if plan.updates:
            try:
                await mirror.push(plan.updates, credentials=target.credentials, time_limit=target.time_limit)
            except StorePushRejected:
                if attempt == target.attempts:
                    raise
                target.logger.info(
                    "The push to %s was refused (attempt %d); fetching and retrying.", mirror.url, attempt
                )
                # Porch waits attempt * 200 ms; jitter keeps competing writers from retrying in lockstep.
                await asyncio.sleep(attempt * 0.2 * random.uniform(0.5, 1.5))
                await mirror.fetch(credentials=target.credentials, time_limit=target.time_limit)
                continue
            for commit in plan.commits:
                mirror.index.add_commit(commit)
            mirror.packages_at.update(plan.package_trees)
        return await plan.finish()
    raise AssertionError("unreachable: the last attempt returns or raises")


def signature_now(who: Signature) -> Signature:
    """`who` stamped with the current time (unless it carries one)."""
    if who.time is not None:
        return who
    return Signature(name=who.name, email=who.email, time=datetime.datetime.now(datetime.UTC))


def package_files(files: Mapping[str, str]) -> dict[str, bytes]:
    """Validate a package's files (paths, a root Kptfile, text) and encode them as UTF-8."""
    if not isinstance(files, Mapping):
        raise InvalidSpec("The package files must be a mapping from path to text.")
    paths.validate_file_set(files)
    if "Kptfile" not in files:
        raise InvalidSpec("The package must contain a Kptfile at its root.")
    encoded = {}
    for path, text in files.items():
        if not isinstance(text, str):
            raise InvalidSpec(f"The content of {path!r} is not text.")
        try:
            encoded[path] = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidSpec(f"The content of {path!r} cannot be encoded as UTF-8.") from exc
    return encoded


def checked_task(task: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A task for a `kpt:` annotation: a JSON object with a string `type`."""
    if task is None:
        return None
    if not isinstance(task, Mapping) or not isinstance(task.get("type"), str) or not task["type"]:
        raise InvalidSpec("A task must be a mapping with a non-empty string 'type'.")
    try:
        return dict(json.loads(json.dumps(task)))
    except (TypeError, ValueError) as exc:
        raise InvalidSpec("The task cannot be written as JSON.") from exc


def branch_head(target: Target) -> str:
    """The commit at the head of the registered branch; InvalidSpec when the branch does not exist."""
    head = target.mirror.refs.commit_of(refs.branch(target.branch))
    if head is None:
        raise InvalidSpec(f"The branch {target.branch!r} does not exist in {target.mirror.url}.")
    return head


async def nothing() -> None:
    """The result of operations that return nothing."""
    return None
