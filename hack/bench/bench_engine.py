"""Figures of the engine: render overhead and resource-merge time on 500-resource packages.

render: a package of 500 resources (250 Deployments, 250 ConfigMaps in 50 files, as `kpt pkg get` leaves them:
merge comments and upstream-identifier annotations) through a pipeline of 5 functions. The functions run in
this process and the time they spend is measured and subtracted, so the figure is the engine's own overhead:
building the ResourceLists, reading the output back, folding it into the resource trees and writing the files.
Three pipelines:

* builtin functions (the figure the target is for): the fnrunner's own implementations of set-labels,
  set-annotations, set-namespace, set-image and ensure-name-substring, run as its builtin evaluator runs
  them (parse the input, run, write the output in the format the input came in: JSON for JSON);
* functions answering block YAML: five trivial transforms (a label, an annotation, a namespace, an image tag,
  a data key) that read with libyaml and always answer block YAML, as functions built on the Go SDK do;
* the latter on the same package with a hand-written end-of-line comment in every resource (such resources
  are sent to functions as YAML rather than JSON).

resource-merge: the upgrade task with the resource-merge strategy on the same package: 500 resources in the
local copy (with local edits on every tenth), the old upstream and a new upstream that changes every
resource and adds and removes a few.

Every figure is the median of several runs after one warm-up run, measured as CPU time of this process (the
engine is single-threaded CPU work); the fastest run is printed too. CPU time is not inflated by other
processes' time, but on a shared virtual machine it still moves by a factor of up to two from one minute to
the next (other tenants' load on the same host), and the minimum is then the steadier figure.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe, figure
from fnrunner.evaluators.builtin.catalogue import BuiltinEvaluator, run_function
from fnrunner.evaluators.builtin.context import Context
from porch_operator.engine import render
from porch_operator.engine.kptfile import GitLock
from porch_operator.engine.ports import FunctionOutput, FunctionResponse, FunctionTarget
from porch_operator.engine.resources import PackageResources
from porch_operator.engine.tasks import upgrade
from porch_operator.models import UpgradeStrategy

RUNS = 7
FILES = 50
PER_FILE = 10

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: # kpt-merge: shop/web-{i}
  name: web-{i}
  namespace: shop
  labels:
    app: web-{i}
  annotations:
    internal.kpt.dev/upstream-identifier: 'apps|Deployment|shop|web-{i}'
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web-{i}
  template:
    metadata:
      labels:
        app: web-{i}
    spec:
      containers:
      - name: app
        image: nginx:1.{tag}
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: "{mode}"
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: # kpt-merge: shop/settings-{i}
  name: settings-{i}
  namespace: shop
  annotations:
    internal.kpt.dev/upstream-identifier: '|ConfigMap|shop|settings-{i}'
data:
  mode: "{mode}"
  retries: "3"
"""

_KPTFILE_HEAD = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: shop
pipeline:
  mutators:
"""

KPTFILE = (
    _KPTFILE_HEAD
    + """\
  - image: example.com/set-labels:v1
  - image: example.com/set-annotations:v1
  - image: example.com/set-namespace:v1
  - image: example.com/set-image:v1
  - image: example.com/set-data:v1
"""
)

BUILTIN_KPTFILE = (
    _KPTFILE_HEAD
    + """\
  - image: set-labels:v0.2.0
    configMap:
      tier: web
  - image: set-annotations:v0.1.4
    configMap:
      owner: shop-team
  - image: set-namespace:v0.4.1
    configMap:
      namespace: shop-prod
  - image: set-image:v0.1.1
    configMap:
      name: nginx
      newTag: "1.27"
  - image: ensure-name-substring:v0.2.0
    configMap:
      append: -prod
"""
)


def package(
    *,
    tag: int = 25,
    replicas: int = 2,
    mode: str = "fast",
    skip: int = -1,
    comment: bool = False,
    kptfile: str = KPTFILE,
) -> dict[str, str]:
    files = {"Kptfile": kptfile}
    number = 0
    for f in range(FILES):
        docs = []
        for _ in range(PER_FILE):
            if number != skip:
                template = DEPLOYMENT if number % 2 == 0 else CONFIGMAP
                text = template.format(i=number, tag=tag, replicas=replicas, mode=mode)
                if comment:
                    text = text.replace(
                        "  namespace: shop\n", "  namespace: shop # owned by the shop team\n", 1
                    )
                docs.append(text)
            number += 1
        files[f"resources/file-{f:02d}.yaml"] = "---\n".join(docs)
    return files


class BuiltinFunctions:
    """The fnrunner's builtin functions, run in process as its builtin evaluator runs them, timed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.evaluator = BuiltinEvaluator()

    async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
        start = time.process_time()
        module = self.evaluator.function_for(function.image or "")
        assert module is not None, function.image
        context = Context(image=function.image or "", deadline=time.monotonic() + 60)
        out = run_function(module, resource_list, context)
        self.seconds += time.process_time() - start
        return FunctionResponse(resource_list=out)

    def close(self) -> None:
        self.evaluator.close()


class TrivialFunctions:
    """In-process functions (libyaml in, block YAML out) that record the time they spend."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.changes: dict[str, Callable[[dict[str, object]], None]] = {
            "example.com/set-labels:v1": lambda item: (
                item["metadata"].setdefault("labels", {}).update(tier="web")
            ),
            "example.com/set-annotations:v1": lambda item: (
                item["metadata"].setdefault("annotations", {}).update(owner="shop-team")
            ),
            "example.com/set-namespace:v1": lambda item: item["metadata"].update(namespace="shop-prod"),
            "example.com/set-image:v1": _set_image,
            "example.com/set-data:v1": _set_data,
        }

    async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
        start = time.process_time()
        change = self.changes[function.image or ""]
        data = yaml.load(resource_list, Loader=yaml.CSafeLoader)
        for item in data["items"]:
            if item.get("kind") != "Kptfile":
                change(item)
        out = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False).encode()
        self.seconds += time.process_time() - start
        return FunctionResponse(resource_list=out)


def _set_image(item: dict[str, object]) -> None:
    spec = item.get("spec")
    if isinstance(spec, dict):
        for container in spec["template"]["spec"]["containers"]:
            container["image"] = "nginx:1.27"


def _set_data(item: dict[str, object]) -> None:
    data = item.get("data")
    if isinstance(data, dict):
        data["rendered"] = "true"


async def measure_render(files: dict[str, str], runtime: BuiltinFunctions | TrivialFunctions) -> float:
    """Seconds of one render, less the seconds spent inside the functions."""
    runtime.seconds = 0.0
    start = time.process_time()
    result = await render.render(PackageResources(files), runtime=runtime)
    total = time.process_time() - start
    assert result.ok, result.error
    rendered = result.resources["resources/file-00.yaml"]
    assert "tier: web" in rendered and "namespace: shop-prod" in rendered and "nginx:1.27" in rendered
    return total - runtime.seconds


def measure_merge() -> float:
    old = package(tag=25)
    new = package(tag=26, replicas=3, skip=7)
    new["resources/file-99.yaml"] = CONFIGMAP.format(i=999, mode="new")
    local = package(tag=25)
    for path in list(local)[1::10]:
        local[path] = local[path].replace('retries: "3"', 'retries: "5"')
    task = upgrade.UpgradeTask(
        old_upstream=PackageResources(old),
        new_upstream=PackageResources(new),
        local=PackageResources(local),
        new_upstream_lock=GitLock(
            repo="https://git.example/shop", directory="shop", ref="shop/v2", commit="c0ffee"
        ),
        strategy=UpgradeStrategy.RESOURCE_MERGE,
    )
    start = time.process_time()
    result = asyncio.run(upgrade.apply(PackageResources(), task))
    elapsed = time.process_time() - start
    assert "replicas: 3" in result["resources/file-00.yaml"]
    assert sum('retries: "5"' in text for text in result.values()) == 5
    return elapsed


def render_figures(
    name: str, files: dict[str, str], runtime: BuiltinFunctions | TrivialFunctions, target: str
) -> None:
    asyncio.run(measure_render(files, runtime))
    overheads = [asyncio.run(measure_render(files, runtime)) * 1000 for _ in range(RUNS)]
    print(figure(f"{name}_engine_overhead_median", statistics.median(overheads), "ms", target))
    print(figure(f"{name}_engine_overhead_min", min(overheads), "ms"))


def main() -> None:
    for line in describe():
        print(line)
    builtins = BuiltinFunctions()
    try:
        render_figures(
            "render_500_resources_5_builtin_functions",
            package(kptfile=BUILTIN_KPTFILE),
            builtins,
            "<= 300 ms",
        )
    finally:
        builtins.close()
    render_figures(
        "render_500_resources_5_functions_answering_yaml",
        package(),
        TrivialFunctions(),
        "none; as functions built on the Go SDK, which answer block YAML",
    )
    render_figures(
        "render_500_commented_resources_5_functions_answering_yaml",
        package(comment=True),
        TrivialFunctions(),
        "none; commented resources go to functions as YAML, not JSON",
    )
    measure_merge()
    merges = [measure_merge() * 1000 for _ in range(RUNS)]
    print(figure("resource_merge_500_resources_median", statistics.median(merges), "ms", "<= 200 ms"))
    print(figure("resource_merge_500_resources_min", min(merges), "ms"))
    print(figure("resource_merge_500_resources_max", max(merges), "ms"))


if __name__ == "__main__":
    main()
