"""Kptfile parsing (strict) and editing (format-preserving)."""

from __future__ import annotations

import pytest

from porch_operator.engine.kptfile import Condition, GitLock, Kptfile
from porch_operator.errors import InvalidSpec

KPTFILE = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: pkg # the package
  labels:
    keep: me
info:
  description: demo
  readinessGates:
  - conditionType: a
  - conditionType: b
pipeline:
  mutators:
  - image: set-labels:v0.2
    configMap:
      app: demo
    selectors:
    - kind: Deployment
  validators:
  - exec: ./check --strict
status:
  conditions:
  - type: a
    status: "True"
    reason: Done
"""


def test_typed_views() -> None:
    kptfile = Kptfile.parse(KPTFILE)
    assert kptfile.name == "pkg"
    assert kptfile.labels == {"keep": "me"}
    assert kptfile.readiness_gates == ["a", "b"]
    assert kptfile.conditions == [Condition(type="a", status="True", reason="Done")]
    pipeline = kptfile.pipeline
    assert pipeline.mutators[0].image == "set-labels:v0.2"
    assert pipeline.mutators[0].config_map == {"app": "demo"}
    assert pipeline.mutators[0].selectors[0].kind == "Deployment"
    assert pipeline.validators[0].exec_argv() == ["./check", "--strict"]


def test_edits_keep_comments_and_place_new_sections_like_kpt() -> None:
    kptfile = Kptfile.parse(KPTFILE)
    kptfile.set_upstream(GitLock(repo="https://example.com/r.git", directory="pkg", ref="v1", commit="abc"))
    kptfile.set_readiness_gates(["b", "c"])
    kptfile.set_conditions([Condition(type="b", status="False", reason="", message="")])
    text = kptfile.text()
    assert "name: pkg # the package" in text
    assert list(kptfile.node) == [
        "apiVersion",
        "kind",
        "metadata",
        "upstream",
        "upstreamLock",
        "info",
        "pipeline",
        "status",
    ]
    assert kptfile.readiness_gates == ["b", "c"]
    assert kptfile.conditions == [Condition(type="b", status="False")]
    assert kptfile.upstream_lock == GitLock(
        repo="https://example.com/r.git", directory="pkg", ref="v1", commit="abc"
    )
    assert kptfile.update_strategy == "resource-merge"


def test_new_kptfile_is_local_config() -> None:
    assert Kptfile.new("x").text() == (
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: x\n  annotations:\n"
        '    config.kubernetes.io/local-config: "true"\n'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: kpt.dev/v1alpha2\nkind: Kptfile\n", "apiVersion must be"),
        ("apiVersion: kpt.dev/v1\nkind: Other\n", "kind must be"),
        ("- a\n- b\n", "must be a mapping"),
        ("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata: [x]\n", "metadata must be a mapping"),
        (
            "apiVersion: kpt.dev/v1\nkind: Kptfile\npipeline:\n  mutators:\n  - configMap: {a: b}\n",
            "exactly one of",
        ),
        (
            "apiVersion: kpt.dev/v1\nkind: Kptfile\npipeline:\n  mutators:\n  - image: a\n    exec: b\n",
            "exactly one of",
        ),
        (
            "apiVersion: kpt.dev/v1\nkind: Kptfile\npipeline:\n  mutators:\n"
            "  - image: a\n    configPath: ../x\n",
            "configPath",
        ),
        (
            "apiVersion: kpt.dev/v1\nkind: Kptfile\npipeline:\n  mutators:\n"
            "  - image: a\n    selectors:\n    - {}\n",
            "at least one field",
        ),
        ("apiVersion: kpt.dev/v1\nkind: Kptfile\ninfo:\n  readinessGates:\n  - {}\n", "conditionType"),
        ("apiVersion: kpt.dev/v1\nkind: Kptfile\nstatus:\n  conditions:\n  - status: x\n", "type"),
        ("apiVersion: kpt.dev/v1\nkind: Kptfile\nupstream:\n  updateStrategy: magic\n", "updateStrategy"),
        ("apiVersion: kpt.dev/v1\nkind: Kptfile\n---\nx: 1\n", "exactly one YAML document"),
        (
            'apiVersion: kpt.dev/v1\nkind: Kptfile\npipeline:\n  mutators:\n  - exec: "a \'b"\n',
            "command line",
        ),
        ("apiVersion: kpt.dev/v1\nkind: Kptfile\npipeline: [\n", "not valid YAML"),
    ],
)
def test_invalid_kptfiles_are_refused_with_the_field(text: str, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        Kptfile.parse(text, path="Kptfile")
