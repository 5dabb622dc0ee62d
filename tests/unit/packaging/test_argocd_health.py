"""The Argo CD health checks: generated file in sync with its Lua sources, one check per kind, and the
health each status shape maps to (kstatus: Current → Healthy, InProgress → Progressing, Failed → Degraded).

Real objects written by the operator and the function runner are checked in
tests/e2e/packaging/test_health_of_real_objects.py; here the shapes are written out, including
PackageVariant and PackageVariantSet as Porch's controllers report them.
"""

from __future__ import annotations

from typing import Any

import generate_argocd_health
import pytest
from lupa import lua51

from porch_operator import models
from tests.argocd_health import health, scripts

PR = ("porch.kpt.dev/v1alpha2", "PackageRevision")
REPO = ("config.porch.kpt.dev/v1alpha1", "Repository")
PV = ("config.porch.kpt.dev/v1alpha1", "PackageVariant")
PVS = ("config.porch.kpt.dev/v1alpha2", "PackageVariantSet")
FC = ("config.porch.kpt.dev/v1alpha1", "FunctionConfig")


def condition(
    type_: str, status: str, reason: str = "R", message: str = "", generation: int = 1
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def obj(
    kind: tuple[str, str], generation: int = 1, status: dict[str, Any] | None = None, **meta: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": kind[0],
        "kind": kind[1],
        "metadata": {"name": "x", "namespace": "ns", "generation": generation, **meta},
        "spec": {},
    }
    if status is not None:
        body["status"] = status
    return body


def test_the_shipped_config_map_is_generated_from_the_lua_sources() -> None:
    assert generate_argocd_health.OUTPUT.read_text() == generate_argocd_health.render(), (
        "config/argocd/argocd-cm-health.yaml is stale: run `make argocd-health`"
    )


def test_every_kind_has_a_health_check() -> None:
    served = {f"{kind.crd.group}/{kind.crd.kind}" for kind in models.ALL_KINDS}
    assert set(scripts()) == served


def test_scripts_run_without_the_libraries_argo_cd_leaves_out() -> None:
    # The sandbox itself: a script using the string library, or a string method, fails as in Argo CD.
    with pytest.raises(lua51.LuaError):
        health_of_script('return {status = string.upper("healthy")}')
    with pytest.raises(lua51.LuaError):
        health_of_script('return {status = ("Healthy"):lower()}')


def health_of_script(source: str) -> None:
    from tests import argocd_health

    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.execute(argocd_health._SANDBOX)
    runtime.execute(source)


KSTATUS_CASES = [
    # (what, object, expected health, a fragment of the message)
    ("no status yet", obj(PR), "Progressing", "report a status"),
    (
        "ready",
        obj(
            PR, 2, {"observedGeneration": 2, "conditions": [condition("Ready", "True", "Ready", "in git", 2)]}
        ),
        "Healthy",
        "in git",
    ),
    (
        "spec changed, not yet observed",
        obj(PR, 3, {"observedGeneration": 2, "conditions": [condition("Ready", "True", "Ready", "", 2)]}),
        "Progressing",
        "generation 3",
    ),
    (
        "reconciling",
        obj(
            PR,
            status={
                "observedGeneration": 1,
                "conditions": [
                    condition("Ready", "False", "Rendering"),
                    condition("Reconciling", "True", "Rendering", "rendering"),
                ],
            },
        ),
        "Progressing",
        "rendering",
    ),
    (
        "stalled",
        obj(
            REPO,
            status={
                "observedGeneration": 1,
                "conditions": [
                    condition("Ready", "False", "StoreAuthError", "rejected"),
                    condition("Stalled", "True", "StoreAuthError", "rejected"),
                ],
            },
        ),
        "Degraded",
        "StoreAuthError: rejected",
    ),
    (
        "not ready, retrying (kstatus InProgress)",
        obj(
            REPO,
            status={
                "observedGeneration": 1,
                "conditions": [condition("Ready", "False", "GitUnavailable", "timeout")],
            },
        ),
        "Progressing",
        "GitUnavailable",
    ),
    (
        "Stalled=False and Reconciling=False are normal",
        obj(
            REPO,
            status={
                "observedGeneration": 1,
                "conditions": [
                    condition("Ready", "True"),
                    condition("Stalled", "False"),
                    condition("Reconciling", "False"),
                ],
            },
        ),
        "Healthy",
        "",
    ),
    # A kind without Ready (Package) is current once observed, as in kstatus.
    (
        "status without Ready",
        obj(("porch.kpt.dev/v1alpha2", "Package"), status={"observedGeneration": 1}),
        "Healthy",
        "",
    ),
    (
        "being deleted",
        obj(
            PR,
            status={"observedGeneration": 1, "conditions": [condition("Ready", "True")]},
            deletionTimestamp="2026-01-01T00:00:00Z",
        ),
        "Progressing",
        "deletion",
    ),
    # PackageVariant and PackageVariantSet have no status.observedGeneration (Porch's API): the Ready
    # condition's own observedGeneration tells whether the status is current.
    (
        "PackageVariant ensured",
        obj(
            PV,
            4,
            {
                "conditions": [
                    condition("Stalled", "False", "Valid", "", 4),
                    condition("Ready", "True", "NoErrors", "", 4),
                ]
            },
        ),
        "Healthy",
        "",
    ),
    (
        "PackageVariant invalid",
        obj(
            PV,
            4,
            {
                "conditions": [
                    condition("Stalled", "True", "ValidationError", "missing upstream", 4),
                    condition("Ready", "False", "Error", "invalid packagevariant object", 4),
                ]
            },
        ),
        "Degraded",
        "missing upstream",
    ),
    (
        "PackageVariantSet with a stale Ready",
        obj(PVS, 5, {"conditions": [condition("Ready", "True", "Reconciled", "", 4)]}),
        "Progressing",
        "generation 5",
    ),
    (
        "PackageVariantSet reconciled",
        obj(
            PVS,
            5,
            {
                "conditions": [
                    condition("Stalled", "False", "Valid", "", 5),
                    condition("Ready", "True", "Reconciled", "", 5),
                ]
            },
        ),
        "Healthy",
        "",
    ),
]


@pytest.mark.parametrize(
    ("what", "body", "expected", "fragment"), KSTATUS_CASES, ids=[c[0] for c in KSTATUS_CASES]
)
def test_kstatus_kinds(what: str, body: dict[str, Any], expected: str, fragment: str) -> None:
    result = health(body)
    assert result.status == expected, what
    assert fragment in result.message


@pytest.mark.parametrize(
    ("status", "generation", "expected"),
    [
        (None, 1, "Progressing"),
        ({"functionRunnerObservedGeneration": 1}, 2, "Progressing"),
        ({"functionRunnerObservedGeneration": 2}, 2, "Healthy"),
        ({"functionRunnerObservedGeneration": 2, "error": "no such binary"}, 2, "Degraded"),
    ],
)
def test_function_config(status: dict[str, Any] | None, generation: int, expected: str) -> None:
    assert health(obj(FC, generation, status)).status == expected
