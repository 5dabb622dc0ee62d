"""Figures of the gitstore (issue 4), each beside a raw git baseline measured in the same run.

The remote is a local bare repository reached over file://, laid out as Porch writes it: 100 packages with
10 published revisions each (approval commits on `main`, tags `<pkg>/v<N>`) and 50 draft branches, generated
with `git fast-import`. Figures:

- first discovery after clone: open a fresh cache (init, fetch, ref scan) and list every revision;
- discovery when nothing changed: `refresh()` (a fetch) + `list_revisions()`, and `list_revisions()` alone;
- discovery right after a publish (what a sync does after each approval);
- publish latency p50/p95 for a package that already has 10, 100 and 1,000 published revisions (draft and
  proposal are prepared untimed; the timed part is `publish()`: approval commit + tag + atomic push);
- raw git baseline: `git commit` + `git tag` + `git push --atomic` of the same change from a working clone
  (to its own copy of the remote), measured in the same rounds.

Run: `.venv/bin/python hack/bench/bench_gitstore.py` (or `make bench`). It prints figures and never fails.
"""

from __future__ import annotations

import asyncio
import shutil
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


class RawClone:
    """The baseline: commit + tag + atomic push of the same change with plain git, from a working clone."""

    def __init__(self, remote: Path, work: Path) -> None:
        git("clone", "--quiet", str(remote), str(work))
        self.work = work
        self.next = len(git("tag", "--list", "hot/v*", cwd=work).split()) + 1

    def publish(self) -> tuple[float, float]:
        """One publish; (total, push only) in milliseconds."""
        (self.work / "hot" / "cm.yaml").write_text(CM.format(name="hot", rev=f"raw{self.next}"))
        tag = f"hot/v{self.next}"
        start = time.perf_counter()
        git("commit", "--quiet", "-am", approval("hot", self.next), cwd=self.work)
        git("tag", tag, cwd=self.work)
        pushed = time.perf_counter()
        git(
            "push", "--quiet", "--atomic", "origin", "HEAD:refs/heads/main", f"refs/tags/{tag}", cwd=self.work
        )
        end = time.perf_counter()
        self.next += 1
        return (end - start) * 1000, (end - pushed) * 1000


async def publish_figures(ours: dict[int, Path], theirs: dict[int, Path], root: Path) -> None:
    """Publish latencies, ours and raw git, for every size; rounds interleave sizes and tools so that
    background load on the machine spreads over all figures alike. Each side has its own copy of the
    remote, so neither sees the other's pushes."""
    timings: dict[tuple[str, int], list[float]] = {}
    async with GitStore(root / "cache-publish") as store:
        repos = {size: await store.open(f"file://{remote}") for size, remote in ours.items()}
        raw = {size: RawClone(remote, root / f"work-{size}") for size, remote in theirs.items()}
        for attempt in range(PUBLISHES):
            for size in HOT_SIZES:
                repo, workspace = repos[size], f"bench-{attempt}"
                files = {
                    "Kptfile": KPTFILE.format(name="hot"),
                    "cm.yaml": CM.format(name="hot", rev=workspace),
                }
                await repo.create_draft("hot", workspace, files=files, author=WHO)
                await repo.propose("hot", workspace)
                start = time.perf_counter()
                await repo.publish("hot", workspace, author=WHO)
                timings.setdefault(("ours", size), []).append((time.perf_counter() - start) * 1000)
                total, push = await asyncio.to_thread(raw[size].publish)
                timings.setdefault(("raw", size), []).append(total)
                timings.setdefault(("raw-push", size), []).append(push)
    p50 = {key: statistics.median(values) for key, values in timings.items()}
    for size in HOT_SIZES:
        print(figure(f"publish_p50_at_{size}_revisions", p50[("ours", size)], "ms", "<= 150 ms"))
        print(figure(f"publish_p95_at_{size}_revisions", percentile(timings[("ours", size)], 0.95), "ms"))
        print(figure(f"raw_git_commit_tag_push_p50_at_{size}", p50[("raw", size)], "ms", "baseline"))
        print(figure(f"raw_git_push_only_p50_at_{size}", p50[("raw-push", size)], "ms", "baseline"))
        print(ratio_line(f"publish_vs_raw_git_at_{size}", p50[("ours", size)] / p50[("raw", size)]))
    low, high = HOT_SIZES[0], HOT_SIZES[-1]
    print(
        ratio_line(f"publish_p50_ratio_{high}_vs_{low}", p50[("ours", high)] / p50[("ours", low)], "<= 1.2 x")
    )
    print(ratio_line(f"raw_git_p50_ratio_{high}_vs_{low}", p50[("raw", high)] / p50[("raw", low)]))


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
        theirs = {}
        for size, remote in remotes.items():
            theirs[size] = root / f"raw-{size}.git"
            shutil.copytree(remote, theirs[size])
        asyncio.run(publish_figures(remotes, theirs, root))


if __name__ == "__main__":
    main()
