"""Builtin apply-setters and search-replace: comment-driven edits, comments kept, documented errors."""

from __future__ import annotations

import re

import yaml

from tests.unit.fnrunner.conftest import Builtins, config_map, deployment

PACKAGE = b"""apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: nginx # the web tier
    annotations:
      internal.config.kubernetes.io/path: deploy.yaml
  spec:
    replicas: 4 # kpt-set: ${replicas}
    template:
      spec:
        containers:
        - name: nginx
          image: nginx:1.14 # kpt-set: nginx:${tag}
        - name: sidecar
          image: envoy:1 # kpt-set: ${sidecar-image}
    environments: # kpt-set: ${envs}
    - dev
    - stage
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: setters
  data:
    replicas: "3"
    tag: 1.16.2
    envs: "[prod, qa]"
"""


def test_apply_setters_full_partial_and_list_values(builtins: Builtins) -> None:
    out = builtins.run_raw("ghcr.io/kptdev/krm-functions-catalog/apply-setters:v0.2.0", PACKAGE).decode()
    parsed = yaml.safe_load(out)
    spec = parsed["items"][0]["spec"]
    assert spec["replicas"] == 3
    assert spec["template"]["spec"]["containers"][0]["image"] == "nginx:1.16.2"
    # A setter that is not given leaves its field alone.
    assert spec["template"]["spec"]["containers"][1]["image"] == "envoy:1"
    assert spec["environments"] == ["prod", "qa"]
    # Comments (setter markers and others) survive.
    assert "# kpt-set: nginx:${tag}" in out and "# the web tier" in out
    paths = {result["field"]["path"] for result in parsed["results"]}
    assert paths == {"spec.replicas", "spec.template.spec.containers[0].image", "spec.environments"}
    assert all(result["file"] == {"path": "deploy.yaml"} for result in parsed["results"])


def test_apply_setters_is_idempotent(builtins: Builtins) -> None:
    once = builtins.run_raw("apply-setters", PACKAGE)
    twice = yaml.safe_load(builtins.run_raw("apply-setters", once))
    assert twice.get("results", []) == []


def test_apply_setters_rejects_non_list_for_list_field(builtins: Builtins) -> None:
    failure = builtins.fail_raw("apply-setters", PACKAGE.replace(b'envs: "[prod, qa]"', b"envs: prod"))
    assert "spec.environments" in str(failure)
    assert failure.results[-1]["severity"] == "error"


def test_apply_setters_wrong_config_kind(builtins: Builtins) -> None:
    wrong = {"apiVersion": "fn.kpt.dev/v1alpha1", "kind": "ApplySetters", "metadata": {"name": "x"}}
    assert builtins.fail("apply-setters", [deployment()], wrong).exit_code == 1


def test_search_replace_by_value_put_value(builtins: Builtins) -> None:
    items, results = builtins.run(
        "search-replace:v0.2",
        [deployment(image="nginx:1.2")],
        config_map({"by-value": "nginx:1.2", "put-value": "nginx:2"}),
    )
    assert items[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert results[0]["field"]["path"] == "spec.template.spec.containers[0].image"


def test_search_replace_by_path_wildcards_and_search_only(builtins: Builtins) -> None:
    items, results = builtins.run(
        "search-replace", [deployment("a"), deployment("b")], config_map({"by-path": "spec.**.image"})
    )
    assert [r["message"] for r in results] == ["Matched field", "Matched field"]
    assert items[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.2"
    _, indexed = builtins.run(
        "search-replace", [deployment()], config_map({"by-path": "spec.template.spec.containers[*].name"})
    )
    assert len(indexed) == 1 and indexed[0]["field"]["currentValue"] == "main"


def test_search_replace_regex_capture_groups(builtins: Builtins) -> None:
    items, _ = builtins.run(
        "search-replace",
        [deployment(image="registry.old/nginx:1.2")],
        config_map({"by-value-regex": "registry.old/(.*)", "put-value": "registry.new/${1}"}),
    )
    assert items[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.new/nginx:1.2"


def test_search_replace_put_comment_and_file_filter(builtins: Builtins) -> None:
    out = builtins.run_raw(
        "search-replace",
        PACKAGE.replace(
            b"  data:\n    replicas",
            b"  data:\n    by-path: spec.replicas\n    put-comment: 'kpt-set: ${r}'\n"
            b"    by-file-path: '*.yaml'\n    replicas",
        ),
    ).decode()
    assert re.search(r"replicas: 4 +# kpt-set: \$\{r\}\n", out), out


def test_search_replace_creates_missing_path(builtins: Builtins) -> None:
    items, _ = builtins.run(
        "search-replace", [deployment()], config_map({"by-path": "spec.paused", "put-value": "true"})
    )
    assert items[0]["spec"]["paused"] == "true"


def test_search_replace_config_errors(builtins: Builtins) -> None:
    assert "at least one of" in str(
        builtins.fail("search-replace", [deployment()], config_map({"put-value": "x"}))
    )
    both = config_map({"by-value": "a", "by-value-regex": "a"})
    assert "only one of" in str(builtins.fail("search-replace", [deployment()], both))
    assert "regular expression" in str(
        builtins.fail("search-replace", [deployment()], config_map({"by-value-regex": "("}))
    )
