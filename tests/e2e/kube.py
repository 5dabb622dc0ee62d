"""A small synchronous client for end-to-end tests: kubectl as a subprocess, acting as any identity.

Tests act on the cluster only the way users do: through kubectl (and, where a test needs it, the Kubernetes
API with a minted identity). `Kubectl.as_user(name, groups)` returns a client whose every call authenticates
as that user, so RBAC and admission are exercised for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class KubectlError(AssertionError):
    """kubectl exited non-zero where the test expected success."""


@dataclass(frozen=True)
class Kubectl:
    kubeconfig: Path
    mint: Callable[[str, tuple[str, ...]], Path]
    namespace: str | None = None

    def as_user(self, user: str, groups: tuple[str, ...] = ()) -> Kubectl:
        return Kubectl(self.mint(user, groups), self.mint, self.namespace)

    def in_namespace(self, namespace: str) -> Kubectl:
        return Kubectl(self.kubeconfig, self.mint, namespace)

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        argv = ["kubectl", f"--kubeconfig={self.kubeconfig}"]
        if self.namespace:
            argv.append(f"--namespace={self.namespace}")
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        result = subprocess.run(
            [*argv, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env
        )
        if check and result.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def apply(
        self, manifest: dict[str, Any] | str, *extra: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        return self.run("apply", "-f", "-", *extra, stdin=text, check=check)

    def create(self, manifest: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("create", "-f", "-", stdin=yaml.safe_dump(manifest), check=check)

    def get(self, kind: str, name: str | None = None, *extra: str) -> Any:
        args = ["get", kind] + ([name] if name else []) + [*extra, "-o", "json"]
        return json.loads(self.run(*args).stdout)

    def exists(self, kind: str, name: str) -> bool:
        result = self.run("get", kind, name, "--ignore-not-found", "-o", "name", check=False)
        return bool(result.stdout.strip())


def eventually(check: Callable[[], T], *, timeout: float = 60, interval: float = 0.2, what: str = "") -> T:
    """Poll `check` until it returns a truthy value (returned) or raises nothing; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:.0f}s: {what} (last: {last})")
        time.sleep(interval)
