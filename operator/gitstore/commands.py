"""Running the git CLI as asyncio subprocesses, with a timeout, a clean environment and no secrets in argv.

Every git process of the gitstore starts here. The environment is the process's own minus git's tracing
variables (which would print headers), plus: no terminal prompts, no askpass program, no credential helpers,
only the transports we expect, the C locale (so stderr can be classified), and the extra configuration a
caller passes (credentials travel that way; see `credentials.py`). A process that outlives its timeout or
whose caller is cancelled is killed and reaped before the exception propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from porch_operator.errors import StoreUnavailable

logger = logging.getLogger(__name__)

GIT = "git"
_DROPPED_ENV = (
    "GIT_TRACE",
    "GIT_TRACE_CURL",
    "GIT_TRACE_PACKET",
    "GIT_TRACE_PACK_ACCESS",
    "GIT_TRACE_PERFORMANCE",
    "GIT_TRACE2",
    "GIT_TRACE2_EVENT",
    "GIT_TRACE2_PERF",
    "GIT_CURL_VERBOSE",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
)
_BASE_CONFIG = {
    # Credential helpers could store or print what git learns; none may run.
    "credential.helper": "",
    "core.askPass": "",
    # Our mirrors are bare caches: never run hooks, never sign.
    "core.hooksPath": os.devnull,
    "commit.gpgSign": "false",
}


@dataclasses.dataclass(frozen=True)
class GitResult:
    """What a finished git process returned."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """True when git exited with status 0."""
        return self.returncode == 0

    def stderr_text(self) -> str:
        """Standard error as text (undecodable bytes replaced)."""
        return self.stderr.decode("utf-8", errors="replace")


class GitTimeout(StoreUnavailable):
    """A git process ran longer than its timeout and was killed."""


def environment(config: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a git process with `config` applied through GIT_CONFIG_COUNT."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ALLOW_PROTOCOL="file:http:https:ssh:git",
        LC_ALL="C",
        LANGUAGE="C",
    )
    settings = dict(_BASE_CONFIG)
    settings.update(config or {})
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for index, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


async def run(
    args: Sequence[str],
    *,
    git_dir: Path | None = None,
    stdin: bytes | None = None,
    config: Mapping[str, str] | None = None,
    time_limit: float | None = None,
) -> GitResult:
    """Run `git <args>` and wait for it; raise GitTimeout when it runs past `time_limit` seconds.

    `args` must not carry secrets (they are logged at debug level); pass those through `config`.
    """
    # An explicit --git-dir: git must never wander up to some enclosing repository.
    argv = [GIT, f"--git-dir={git_dir}", *args] if git_dir else [GIT, *args]
    logger.debug("Running %s.", " ".join(argv))
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=git_dir,
        env=environment(config),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(time_limit):
            stdout, stderr = await process.communicate(stdin)
    except TimeoutError as exc:
        await _kill(process)
        raise GitTimeout(f"git {args[0]} did not finish within {time_limit:g} seconds.") from exc
    except BaseException:
        await _kill(process)
        raise
    return GitResult(returncode=process.returncode or 0, stdout=stdout, stderr=stderr)


async def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill a git process and its children (it leads its own session) and reap it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
    # Reaping must finish even when we are being cancelled, or the process lingers as a zombie.
    with contextlib.suppress(Exception):
        await asyncio.shield(process.wait())
