"""Figures of the gitstore (issue 4), each beside a raw git baseline measured in the same run.

The remote is a local bare repository reached over file://, laid out as Porch writes it: 100 packages with
10 published revisions each (approval commits on `main`, tags `<pkg>/v<N>`) and 50 draft branches, generated
with `git fast-import`. Figures:

- first discovery after clone: open a fresh cache (init, fetch, ref scan) and list every revision;
- discovery when nothing changed: `refresh()` (a fetch) + `list_revisions()`, and `list_revisions()` alone;
- discovery right after a publish (what a sync does after each approval);
- publish latency p50/p95 for a package that already has 10, 100 and 1,000 published revisions (draft and
  proposal are prepared untimed; the timed part is `publish()`: approval commit + tag + atomic push);
- raw git baseline: `git commit` + `git tag` + `git push --atomic` of the same change from a working clone.

Run: `.venv/bin/python hack/bench/bench_gitstore.py` (or `make bench`). It prints figures and never fails.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe, figure
from porch_operator.gitstore import GitStore, Signature

PACKAGES = 100
REVISIONS = 10
DRAFTS = 50
HOT_SIZES = (10, 100, 1000)
PUBLISHES = 31
DISCOVERIES = 20
WHO = Signature(name="Bench", email="bench@example.com")
KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {name}\ninfo:\n  description: bench\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  revision: '{rev}'\n"


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        [
            "git",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
            *args,
        ],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


class Stream:
    """Builds a `git fast-import` stream of Porch-style commits."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0
        self.clock = 1_700_000_000

    def data(self, text: str) -> None:
        raw = text.encode()
        self.parts.append(b"data %d\n%s\n" % (len(raw), raw))

    def commit(self, ref: str, message: str, files: dict[str, str], parent: int | None) -> int:
        self.mark += 1
        self.clock += 1
        self.parts.append(f"commit {ref}\nmark :{self.mark}\n".encode())
        self.parts.append(f"author Bench <bench@example.com> {self.clock} +0000\n".encode())
        self.parts.append(f"committer Bench <bench@example.com> {self.clock} +0000\n".encode())
        self.data(message)
        if parent is not None:
            self.parts.append(f"from :{parent}\n".encode())
        for path, text in files.items():
            self.parts.append(f"M 100644 inline {path}\n".encode())
            self.data(text)
        return self.mark

    def tag(self, name: str, mark: int) -> None:
        self.parts.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())

    def bytes(self) -> bytes:
        return b"".join(self.parts) + b"done\n"


def approval(path: str, rev: int) -> str:
    annotation = f'{{"package":"{path}","workspaceName":"v{rev}","revision":"{rev}"}}'
    return f"Approving package revision {path}/{rev}\n\nkpt:{annotation}\n"


def build_remote(root: Path, hot_revisions: int) -> Path:
    """A bare repository with the standard catalogue plus package `hot` with `hot_revisions` revisions."""
    remote = root / f"remote-{hot_revisions}.git"
    git("init", "--quiet", "--bare", str(remote))
    stream = Stream()
    head: int | None = None
    for rev in range(1, REVISIONS + 1):
        for index in range(PACKAGES):
            name = f"pkg-{index:03d}"
            files = {
                f"{name}/Kptfile": KPTFILE.format(name=name),
                f"{name}/cm.yaml": CM.format(name=name, rev=rev),
            }
            head = stream.commit("refs/heads/main", approval(name, rev), files, head)
            stream.tag(f"{name}/v{rev}", head)
    for rev in range(1, hot_revisions + 1):
        files = {"hot/Kptfile": KPTFILE.format(name="hot"), "hot/cm.yaml": CM.format(name="hot", rev=rev)}
        head = stream.commit("refs/heads/main", approval("hot", rev), files, head)
        stream.tag(f"hot/v{rev}", head)
    for index in range(DRAFTS):
        name = f"pkg-{index:03d}"
        annotation = f'{{"package":"{name}","workspaceName":"draft","revision":"0","task":{{"type":"edit"}}}}'
        message = f"Creating new revision by copying previous revision\n\n\nkpt:{annotation}\n"
        files = {f"{name}/cm.yaml": CM.format(name=name, rev="draft")}
        stream.commit(f"refs/heads/drafts/{name}/draft", message, files, head)
    git("fast-import", "--quiet", cwd=remote, stdin=stream.bytes())
    git("gc", "--quiet", cwd=remote)
    return remote


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def discovery_figures(remote: Path, cache: Path) -> None:
    url = f"file://{remote}"
    async with GitStore(cache) as store:
        start = time.perf_counter()
        repo = await store.open(url)
        revisions = await repo.list_revisions()
        first = (time.perf_counter() - start) * 1000
        count = len(revisions)
        unchanged, cached = [], []
        for _ in range(DISCOVERIES):
            start = time.perf_counter()
            changed = await repo.refresh()
            await repo.list_revisions()
            unchanged.append((time.perf_counter() - start) * 1000)
            assert not changed
            start = time.perf_counter()
            await repo.list_revisions()
            cached.append((time.perf_counter() - start) * 1000)
        await repo.create_draft("new", "ws", files={"Kptfile": KPTFILE.format(name="new")}, author=WHO)
        await repo.propose("new", "ws")
        await repo.publish("new", "ws", author=WHO)
        start = time.perf_counter()
        after = await repo.list_revisions()
        after_publish = (time.perf_counter() - start) * 1000
    print(f"revisions discovered: {count} (after one more publish: {len(after)})")
    print(figure("first_discovery_after_clone", first, "ms", "none (open + fetch + list)"))
    print(figure("discovery_unchanged_p50", statistics.median(unchanged), "ms", "<= 100 ms (refresh + list)"))
    print(figure("discovery_unchanged_max", max(unchanged), "ms"))
    print(figure("list_revisions_cached_p50", statistics.median(cached), "ms"))
    print(figure("discovery_after_a_publish", after_publish, "ms"))


async def publish_latencies(remote: Path, cache: Path) -> list[float]:
    async with GitStore(cache) as store:
        repo = await store.open(f"file://{remote}")
        timings = []
        for attempt in range(PUBLISHES):
            files = {
                "Kptfile": KPTFILE.format(name="hot"),
                "cm.yaml": CM.format(name="hot", rev=f"b{attempt}"),
            }
            await repo.create_draft("hot", f"bench-{attempt}", files=files, author=WHO)
            await repo.propose("hot", f"bench-{attempt}")
            start = time.perf_counter()
            await repo.publish("hot", f"bench-{attempt}", author=WHO)
            timings.append((time.perf_counter() - start) * 1000)
        return timings


def raw_git_latencies(remote: Path, work: Path) -> tuple[list[float], list[float]]:
    """commit + tag + atomic push of the same change with plain git, from a working clone."""
    git("clone", "--quiet", str(remote), str(work))
    existing = len(git("tag", "--list", "hot/v*", cwd=work).split())
    totals, pushes = [], []
    for attempt in range(PUBLISHES):
        (work / "hot" / "cm.yaml").write_text(CM.format(name="hot", rev=f"raw{attempt}"))
        tag = f"hot/v{existing + attempt + 1}"
        start = time.perf_counter()
        git("commit", "--quiet", "-am", approval("hot", existing + attempt + 1), cwd=work)
        git("tag", tag, cwd=work)
        pushed = time.perf_counter()
        git("push", "--quiet", "--atomic", "origin", "HEAD:refs/heads/main", f"refs/tags/{tag}", cwd=work)
        end = time.perf_counter()
        totals.append((end - start) * 1000)
        pushes.append((end - pushed) * 1000)
    return totals, pushes


def ratio_line(name: str, value: float, target: str = "") -> str:
    line = f"{name}: {value:.2f} x"
    return f"{line} (target: {target})" if target else line


def main() -> None:
    for line in describe():
        print(line)
    print(f"layout: {PACKAGES} packages x {REVISIONS} published revisions + {DRAFTS} drafts, file:// remote")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        remotes = {size: build_remote(root, size) for size in HOT_SIZES}
        asyncio.run(discovery_figures(remotes[HOT_SIZES[0]], root / "cache-discovery"))
        p50s, raw_p50s = {}, {}
        for size, remote in remotes.items():
            ours = asyncio.run(publish_latencies(remote, root / f"cache-{size}"))
            raw, raw_push = raw_git_latencies(remote, root / f"work-{size}")
            p50s[size] = statistics.median(ours)
            raw_p50s[size] = statistics.median(raw)
            print(figure(f"publish_p50_at_{size}_revisions", p50s[size], "ms", "<= 150 ms"))
            print(figure(f"publish_p95_at_{size}_revisions", percentile(ours, 0.95), "ms"))
            print(figure(f"raw_git_commit_tag_push_p50_at_{size}", statistics.median(raw), "ms", "baseline"))
            print(figure(f"raw_git_push_only_p50_at_{size}", statistics.median(raw_push), "ms", "baseline"))
            print(ratio_line(f"publish_vs_raw_git_at_{size}", p50s[size] / statistics.median(raw)))
        print(
            ratio_line("publish_p50_ratio_1000_vs_10", p50s[HOT_SIZES[-1]] / p50s[HOT_SIZES[0]], "<= 1.2 x")
        )
        print(ratio_line("raw_git_p50_ratio_1000_vs_10", raw_p50s[HOT_SIZES[-1]] / raw_p50s[HOT_SIZES[0]]))


if __name__ == "__main__":
    main()
