"""Table-driven admission cases: set up some objects, make one request as one identity, expect it accepted or
refused with a given message.

A refusing case names the message of the rule it is about, so it fails if that rule is removed even where
another rule would also refuse; its data is chosen so that, as far as possible, that rule is the only one that
refuses it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from tests.e2e.api.conftest import Actors

Who = Literal["admin", "operator", "author", "approver"]


@dataclass(frozen=True)
class Act:
    """One kubectl request as one identity."""

    who: Who
    verb: Literal["create", "patch", "status", "json-patch", "delete"]
    body: Any = None
    target: str = ""

    def run(self, actors: Actors) -> subprocess.CompletedProcess[str]:
        kubectl = actors.by_name(self.who)
        if self.verb == "create":
            return kubectl.run("create", "-f", "-", stdin=json.dumps(self.body), check=False)
        if self.verb == "delete":
            return kubectl.run("delete", self.target, "--wait=false", check=False)
        args = ["patch", self.target, "-p", json.dumps(self.body)]
        if self.verb == "json-patch":
            args.append("--type=json")
        else:
            args.append("--type=merge")
        if self.verb == "status":
            args.append("--subresource=status")
        return kubectl.run(*args, check=False)


def create(who: Who, manifest: dict[str, Any]) -> Act:
    return Act(who, "create", manifest)


def patch(who: Who, target: str, body: dict[str, Any]) -> Act:
    return Act(who, "patch", body, target)


def status(who: Who, target: str, body: dict[str, Any]) -> Act:
    return Act(who, "status", body, target)


def json_patch(who: Who, target: str, operations: list[dict[str, Any]]) -> Act:
    return Act(who, "json-patch", operations, target)


def delete(who: Who, target: str) -> Act:
    return Act(who, "delete", None, target)


@dataclass(frozen=True)
class Case:
    """`action` after `setup` is accepted (`refused` is None) or refused with a message holding `refused`."""

    id: str
    action: Act
    refused: str | None = None
    setup: tuple[Act, ...] = ()

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def params(cases: list[Case]) -> list[Any]:
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return [case.param() for case in cases]


def check(case: Case, actors: Actors) -> None:
    for step in case.setup:
        done = step.run(actors)
        assert done.returncode == 0, f"setup step {step} failed: {done.stderr}"
    result = case.action.run(actors)
    if case.refused is None:
        assert result.returncode == 0, f"expected acceptance, got: {result.stderr}"
    else:
        assert result.returncode != 0, f"expected refusal with {case.refused!r}, but it was accepted"
        assert case.refused in result.stderr, f"expected {case.refused!r} in: {result.stderr}"
