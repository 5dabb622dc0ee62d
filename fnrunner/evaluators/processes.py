"""Run one function process: ResourceList on stdin, bounded stdout, stderr tail, hard time limit.

Used by the executable evaluator. The process gets its own session so that a timeout kills the whole process
group (a shell script's children included). Stdin is written while stdout and stderr are read, so a function
that writes before it has read all its input cannot deadlock us. Stdout beyond `max_stdout` bytes or a run
beyond `timeout` seconds kills the process and raises `OutputTooLarge` / `EvaluationTimeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from fnrunner.evaluators.evaluation import EvaluationTimeout, EvaluatorUnavailable, OutputTooLarge

_CHUNK = 64 * 1024
_REAP_SECONDS = 5.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    """A process that ran to its end."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    stderr_truncated: bool


class _TooMuchOutput(Exception):
    pass


async def _read_bounded(stream: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _TooMuchOutput
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_tail(stream: asyncio.StreamReader, keep: int) -> tuple[bytes, bool]:
    tail = bytearray()
    truncated = False
    while chunk := await stream.read(_CHUNK):
        tail += chunk
        if len(tail) > keep:
            del tail[: len(tail) - keep]
            truncated = True
    return bytes(tail), truncated


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    # A function may exit without reading its input; that is its business, not an error of ours.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(data)
        await stdin.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.close()
        await stdin.wait_closed()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(_CHUNK):
        pass


async def _reap(process: asyncio.subprocess.Process) -> None:
    """Wait for a (killed) process. asyncio's wait() also waits for the pipes to close, and a pipe whose
    reader stopped reading mid-stream is paused, so the rest of the output is drained first."""
    assert process.stdout and process.stderr
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_REAP_SECONDS):
            await asyncio.gather(_discard(process.stdout), _discard(process.stderr))
            await process.wait()
            return
    log.warning("Process %d did not release its pipes after being killed.", process.pid)


async def run(
    argv: Sequence[str],
    stdin: bytes,
    *,
    timeout: float,  # noqa: ASYNC109 (the caller's deadline)
    max_stdout: int,
    stderr_tail: int,
    env: dict[str, str] | None = None,
) -> Completed:
    """Run `argv` to completion; see the module docstring."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=env,
        )
    except OSError as exc:
        raise EvaluatorUnavailable(f"Cannot start {argv[0]}: {exc.strerror or exc}.") from exc
    assert process.stdin and process.stdout and process.stderr
    feeding = asyncio.ensure_future(_feed(process.stdin, stdin))
    reading = asyncio.ensure_future(_read_bounded(process.stdout, max_stdout))
    tailing = asyncio.ensure_future(_read_tail(process.stderr, stderr_tail))
    try:
        async with asyncio.timeout(timeout):
            stdout = await reading
            stderr, truncated = await tailing
            await feeding
            exit_code = await process.wait()
    except TimeoutError as exc:
        raise EvaluationTimeout(f"{argv[0]} did not finish within {timeout:.1f} s and was stopped.") from exc
    except _TooMuchOutput as exc:
        raise OutputTooLarge(
            f"{argv[0]} wrote more than {max_stdout} bytes to stdout and was stopped."
        ) from exc
    finally:
        if process.returncode is None:
            _kill_group(process)
        for task in (feeding, reading, tailing):
            task.cancel()
        await asyncio.gather(feeding, reading, tailing, return_exceptions=True)
        await _reap(process)
    return Completed(exit_code=exit_code, stdout=stdout, stderr=stderr, stderr_truncated=truncated)
