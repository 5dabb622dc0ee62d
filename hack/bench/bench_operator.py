"""Figures of the operator on a local control plane: lifecycle latencies, publishing with many revisions,
registering a large repository, resyncs and restarts, memory.

Everything runs for real: a fresh control plane, the CRDs and policies, the operator and fnrunner as
processes with the operator's ServiceAccount (see localcluster.porch), and git repositories on disk. Latencies
are measured from the API write to the moment a watch on the object shows it Ready for its generation.
API writes are read from the operator's own counter (`porch_api_writes_total`). Prints `name: value unit
(target: ...)` lines; never fails. Arguments pick parts (`latency`, `publish`, `register`); none runs all.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe, figure
from localcluster import binaries, porch
from localcluster.controlplane import ADMIN_USER, ControlPlane, versions
from localcluster.processes import free_port

NS = "default"
GROUP = "/apis/porch.kpt.dev/v1alpha2/namespaces/default"


class Api:
    """Just enough of the Kubernetes API for the benchmark, as the admin (no kubectl process per call)."""

    def __init__(self, plane: ControlPlane) -> None:
        self.base = plane.api_url
        context: ssl.SSLContext = plane.ssl_context_for(ADMIN_USER, ["system:masters"])
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", content_type)
        request.add_header("Accept", accept)
        for _ in range(30):
            try:
                with self.opener.open(request, timeout=120) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                # 429 "storage is (re)initializing": the watch cache of a busy kind restarts; 503 while a
                # freshly installed API or policy settles.
                if exc.code not in (429, 503):
                    raise
                print(f"(retrying {method} {path}: {exc.code} {exc.read()[:300]!r})", file=sys.stderr)
                time.sleep(float(exc.headers.get("Retry-After") or 1))
        raise RuntimeError(f"{method} {path}: the API server kept answering 429")

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body, "application/merge-patch+json")

    def wait(self, path: str, done: Callable[[dict[str, Any]], bool], timeout: float = 120) -> float:
        """Watch one object until `done(object)`; returns the monotonic time it was seen."""
        collection, name = path.rsplit("/", 1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = self.get(path)
            if done(obj):
                return time.monotonic()
            version = obj["metadata"]["resourceVersion"]
            query = (
                f"?watch=true&fieldSelector=metadata.name={name}&resourceVersion={version}&timeoutSeconds=60"
            )
            with self.opener.open(
                collection + query if collection.startswith("http") else self.base + collection + query,
                timeout=90,
            ) as stream:
                for line in stream:
                    event = json.loads(line)
                    if event["type"] in ("ADDED", "MODIFIED") and done(event["object"]):
                        return time.monotonic()
        raise TimeoutError(f"{path} not done after {timeout}s")


def ready(obj: dict[str, Any]) -> bool:
    generation = obj["metadata"].get("generation")
    for condition in obj.get("status", {}).get("conditions", []):
        if condition["type"] == "Ready":
            return condition["status"] == "True" and condition.get("observedGeneration") == generation
    return False


def published(obj: dict[str, Any]) -> bool:
    return ready(obj) and obj.get("status", {}).get("revision", 0) > 0


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    return subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "b",
            "GIT_AUTHOR_EMAIL": "b@b",
            "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b",
            "PATH": "/usr/bin:/bin",
        },
    ).stdout.decode()


def big_repository(path: Path, *, packages: int, versions_each: int, drafts: int = 0) -> None:
    """A bare repository written with git fast-import: packages x published versions (+ draft branches)."""
    lines: list[str] = []
    mark = 0
    kptfile = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\ninfo:\n  description: v{v}\n"
    cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  version: "{v}"\n'

    def blob(text: str) -> int:
        nonlocal mark
        mark += 1
        data = text.encode()
        lines.extend([f"blob\nmark :{mark}\ndata {len(data)}\n", data.decode() + "\n"])
        return mark

    parent = None
    for version in range(1, versions_each + 1):
        for index in range(packages):
            name = f"pkg{index:03d}"
            k, c = blob(kptfile.format(name=name, v=version)), blob(cm.format(name=name, v=version))
            mark += 1
            message = json.dumps({"package": name, "workspaceName": f"v{version}", "revision": str(version)})
            message = f"Approving package revision {name}/{version}\n\nkpt:{message}\n"
            lines.append(
                f"commit refs/heads/main\nmark :{mark}\ncommitter b <b@b> {1700000000 + mark} +0000\n"
            )
            lines.append(f"data {len(message.encode())}\n{message}\n")
            if parent:
                lines.append(f"from :{parent}\n")
            lines.append(f"M 100644 :{k} {name}/Kptfile\nM 100644 :{c} {name}/cm.yaml\n\n")
            lines.append(f"reset refs/tags/{name}/v{version}\nfrom :{mark}\n\n")
            parent = mark
    for index in range(drafts):
        lines.append(f"reset refs/heads/drafts/pkg{index:03d}/wip\nfrom :{parent}\n\n")
    git("init", "--quiet", "--bare", str(path))
    git("fast-import", "--quiet", cwd=path, stdin="".join(lines).encode())
    # As a git server keeps a repository it has had for a while (and as bench_gitstore does): refs packed,
    # objects packed, a commit-graph. fast-import leaves one loose file per ref, which alone makes every
    # push to a 1,000-tag remote twice as slow.
    git("gc", "--quiet", cwd=path)


def repository(name: str, path: Path) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"type": "git", "git": {"repo": f"file://{path}", "branch": "main"}},
    }


def revision(repo: str, package: str, workspace: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": f"{repo}.{package}.{workspace}", "namespace": NS},
        "spec": {
            "repository": repo,
            "packageName": package,
            "workspaceName": workspace,
            "lifecycle": "Draft",
            "source": source,
        },
    }


class Bench:
    def __init__(self, plane: ControlPlane, work: Path) -> None:
        self.plane, self.work, self.api = plane, work, Api(plane)
        self.admin = plane.admin_kubeconfig
        porch.install_api(self.admin)
        self.identity = porch.install_identity(plane, self.admin, work / "operator.kubeconfig")
        self.fnrunner_port = free_port()
        self.fnrunner = porch.start_fnrunner(work, self.fnrunner_port)
        self.operator = None
        self.start_operator()

    def start_operator(self) -> None:
        self.metrics_port = free_port()
        self.operator = porch.start_operator(
            self.work,
            self.identity,
            fnrunner_port=self.fnrunner_port,
            metrics_port=self.metrics_port,
            settings={"PORCH_SYNC_INTERVAL": "5"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.metric("porch_api_writes_total")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the operator did not start")

    def metric(self, name: str, **labels: str) -> float:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                sample, value = line.rsplit(" ", 1)
                if sample.split("{")[0] == name and all(f'{k}="{v}"' in sample for k, v in labels.items()):
                    total += float(value)
        return total

    def samples(self, name: str) -> list[str]:
        """The non-zero samples of a metric, as exposed."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            lines = response.read().decode().splitlines()
        return [line for line in lines if line.startswith(name + "{") and not line.endswith(" 0.0")]

    def create(self, body: dict[str, Any], plural: str, group: str = GROUP) -> None:
        self.api.call("POST", f"{group}/{plural}", body)

    def register(self, name: str, path: Path) -> None:
        self.create(
            repository(name, path), "repositories", "/apis/config.porch.kpt.dev/v1alpha1/namespaces/default"
        )
        self.api.wait(
            f"/apis/config.porch.kpt.dev/v1alpha1/namespaces/default/repositories/{name}", ready, 300
        )

    def set_lifecycle(self, name: str, lifecycle: str) -> float:
        started = time.monotonic()
        self.api.patch(f"{GROUP}/packagerevisions/{name}", {"spec": {"lifecycle": lifecycle}})
        return started

    def lifecycle_latencies(self, rounds: int) -> dict[str, list[float]]:
        repo = self.work / "git" / "latency.git"
        big_repository(repo, packages=1, versions_each=1)
        self.register("latency", repo)
        figures: dict[str, list[float]] = {"init": [], "propose": [], "publish": []}
        for index in range(rounds):
            body = revision("latency", f"app{index}", "ws", {"init": {}})
            started = time.monotonic()
            self.create(body, "packagerevisions")
            path = f"{GROUP}/packagerevisions/latency.app{index}.ws"
            figures["init"].append(self.api.wait(path, ready) - started)
            started = self.set_lifecycle(f"latency.app{index}.ws", "Proposed")
            figures["propose"].append(self.api.wait(path, ready) - started)
            started = self.set_lifecycle(f"latency.app{index}.ws", "Published")
            figures["publish"].append(self.api.wait(path, published) - started)
        return figures

    def publish_with_histories(
        self, sizes: tuple[int, ...], rounds: int
    ) -> dict[int, tuple[list[float], float]]:
        """Per history size: publish latencies of a package that has that many revisions, and the mean time
        of the git part. The sizes take turns round by round, so that a slower moment of the machine
        weighs on all of them alike."""
        for existing in sizes:
            name = f"hist{existing}"
            repo = self.work / "git" / f"{name}.git"
            big_repository(repo, packages=1, versions_each=existing)
            self.register(name, repo)
            self.api.wait(f"{GROUP}/packagerevisions/{name}.pkg000.v{existing}", ready, 300)
        latencies: dict[int, list[float]] = {existing: [] for existing in sizes}
        git_seconds: dict[int, list[float]] = {existing: [0.0, 0.0] for existing in sizes}
        for index in range(rounds):
            for existing in sizes:
                name, ws = f"hist{existing}", f"next{index}"
                body = revision(name, "pkg000", ws, {"copyFrom": {"name": f"{name}.pkg000.v{existing}"}})
                self.create(body, "packagerevisions")
                path = f"{GROUP}/packagerevisions/{name}.pkg000.{ws}"
                self.api.wait(path, ready)
                self.set_lifecycle(f"{name}.pkg000.{ws}", "Proposed")
                self.api.wait(path, ready)
                total = self.metric("porch_publish_duration_seconds_sum")
                count = self.metric("porch_publish_duration_seconds_count")
                started = self.set_lifecycle(f"{name}.pkg000.{ws}", "Published")
                latencies[existing].append(self.api.wait(path, published) - started)
                git_seconds[existing][0] += self.metric("porch_publish_duration_seconds_sum") - total
                git_seconds[existing][1] += self.metric("porch_publish_duration_seconds_count") - count
        return {n: (latencies[n], git_seconds[n][0] / max(git_seconds[n][1], 1)) for n in sizes}

    def count(self, plural: str) -> int:
        # Metadata only: listing 1,000 full objects every poll would load the API server the operator is
        # being measured against.
        listing = self.api.call(
            "GET",
            f"{GROUP}/{plural}?labelSelector=porch.kpt.dev/repository=large",
            accept="application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        )
        return len(listing.get("items") or [])

    def rss_mib(self) -> float:
        assert self.operator is not None
        for line in Path(f"/proc/{self.operator.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.operator is not None:
            self.operator.stop()
        self.fnrunner.stop()


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    for line in describe():
        print(line)
    bin_dir = binaries.binary_dir()
    print(f"kubernetes: {versions(bin_dir)['kubernetes']}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "git").mkdir()
        with ControlPlane(bin_dir=bin_dir, workdir=work / "controlplane") as plane:
            bench = Bench(plane, work)
            try:
                run(bench, work)
            finally:
                bench.stop()


PARTS = ("latency", "publish", "register")


def run(bench: Bench, work: Path) -> None:
    parts = set(sys.argv[1:]) or set(PARTS)
    if parts - set(PARTS):
        raise SystemExit(f"usage: bench_operator.py [{' | '.join(PARTS)}]...")
    if "latency" in parts:
        latency(bench)
    if "publish" in parts:
        publish(bench)
    if "register" in parts:
        register(bench, work)


MS = 1000.0


def latency(bench: Bench) -> None:
    lat = bench.lifecycle_latencies(rounds=15)
    ms = MS
    print(figure("init_to_ready_p50", p(lat["init"], 0.5) * ms, "ms"))
    print(figure("propose_to_ready_p50", p(lat["propose"], 0.5) * ms, "ms"))
    print(figure("published_to_ready_p50", p(lat["publish"], 0.5) * ms, "ms", "<= 300 ms"))
    print(figure("published_to_ready_p95", p(lat["publish"], 0.95) * ms, "ms"))


def publish(bench: Bench) -> None:
    ms = MS
    figures = bench.publish_with_histories((10, 1000), rounds=15)
    (at10, git10), (at1000, git1000) = figures[10], figures[1000]
    print(figure("publish_p50_with_10_revisions", p(at10, 0.5) * ms, "ms"))
    print(figure("publish_p50_with_1000_revisions", p(at1000, 0.5) * ms, "ms"))
    print(figure("publish_git_part_mean_with_10_revisions", git10 * ms, "ms"))
    print(figure("publish_git_part_mean_with_1000_revisions", git1000 * ms, "ms"))
    print(figure("publish_p50_ratio_1000_to_10", p(at1000, 0.5) / p(at10, 0.5), "x", "<= 1.2"))


def register(bench: Bench, work: Path) -> None:
    ms = MS
    large = work / "git" / "large.git"
    big_repository(large, packages=100, versions_each=10, drafts=50)
    started = time.monotonic()
    bench.create(
        repository("large", large), "repositories", "/apis/config.porch.kpt.dev/v1alpha1/namespaces/default"
    )
    expected = 100 * 10 + 100 + 50  # published, placeholders, drafts
    while bench.count("packagerevisions") < expected or bench.count("packages") < 100:
        time.sleep(0.5)
    print(figure("register_100x10_all_objects_exist", time.monotonic() - started, "s", "<= 30 s"))
    # Let every follow-up settle, then watch two periodic checks (interval 5 s) with nothing new in git.
    time.sleep(15)
    writes = bench.metric("porch_api_writes_total")
    checks = bench.metric("porch_repository_sync_duration_seconds_count", changed="false")
    seconds = bench.metric("porch_repository_sync_duration_seconds_sum", changed="false")
    time.sleep(12)
    checks_done = bench.metric("porch_repository_sync_duration_seconds_count", changed="false") - checks
    spent = bench.metric("porch_repository_sync_duration_seconds_sum", changed="false") - seconds
    print(
        figure("resync_unchanged_api_writes", bench.metric("porch_api_writes_total") - writes, "writes", "0")
    )
    print(figure("resync_unchanged_duration_mean", spent / max(checks_done, 1) * ms, "ms"))
    print(figure("operator_rss_with_1250_revisions", bench.rss_mib(), "MiB", "<= 200 MiB"))

    assert bench.operator is not None
    bench.operator.stop()
    started = time.monotonic()
    bench.start_operator()
    repositories = len(
        bench.api.get("/apis/config.porch.kpt.dev/v1alpha1/namespaces/default/repositories")["items"]
    )
    while bench.metric("porch_repository_sync_duration_seconds_count") < repositories:
        time.sleep(0.1)
    print(figure("restart_to_all_synced", time.monotonic() - started, "s", "<= 10 s"))
    time.sleep(5)
    print(figure("restart_api_writes", bench.metric("porch_api_writes_total"), "writes", "0"))
    for sample in bench.samples("porch_api_writes_total"):
        print(f"  {sample}")
    print(figure("operator_rss_after_restart", bench.rss_mib(), "MiB", "<= 200 MiB"))


if __name__ == "__main__":
    main()
