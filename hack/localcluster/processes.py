"""Child processes that cannot outlive their parent.

Every server the local cluster starts runs in its own session (so a Ctrl-C in the terminal reaches the
supervisor first, which then stops the children in order) and with PR_SET_PDEATHSIG=SIGKILL, so the kernel
kills it when the process that started it dies for any reason, SIGKILL included. PDEATHSIG is tied to the
*thread* that forked the child, so servers must be started from a thread that lives as long as they do (the
main thread, in every caller here).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child between fork and exec."""
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may have died between fork and prctl; then nobody would ever send the signal.
    if os.getppid() != parent_pid:
        os._exit(1)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


@dataclass
class ManagedProcess:
    """A started server: its Popen handle and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
            self.popen.wait()


def spawn(name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> ManagedProcess:
    """Start `argv` with output to `<workdir>/<name>.log`; the child dies with this process."""
    log = workdir / f"{name}.log"
    parent = os.getpid()
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            close_fds=True,
            preexec_fn=lambda: _die_with_parent(parent),  # noqa: PLW1509 - Linux only, see module doc
        )
    return ManagedProcess(name, popen, log)


def _opener(context: ssl.SSLContext | None) -> urllib.request.OpenerDirector:
    # An empty ProxyHandler: HTTP(S)_PROXY must never capture loopback traffic.
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


def wait_http_ok(
    url: str, process: ManagedProcess, context: ssl.SSLContext | None = None, timeout: float = 90.0
) -> None:
    """Poll `url` until it answers 200; fail early, with the log tail, if the process exits."""
    opener = _opener(context)
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(
                f"{process.name} exited with status {process.popen.returncode} while starting:\n"
                f"{log_tail(process.log)}"
            )
        try:
            with opener.open(url, timeout=3) as response:
                if response.status == 200:
                    return
                last = response.status
        except urllib.error.HTTPError as exc:  # 401/403/500 while the server starts
            exc.close()  # it holds the socket
            last = exc.code
        except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(
        f"{process.name}: {url} not ready after {timeout:.0f}s (last: {last})\n{log_tail(process.log)}"
    )
