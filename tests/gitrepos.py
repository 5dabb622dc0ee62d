"""Real git repositories for end-to-end tests, written the way a person with the git CLI would.

`BareRepo` is a bare repository on disk reached over `file://` (the operator and kpt read it like any
remote). `seed_package` commits a package on a branch and can tag it `<path>/v<N>` as Porch publishes it;
`outside_commit` writes from a separate clone, as another user would. Nothing here uses the operator's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Outside Writer",
    "GIT_AUTHOR_EMAIL": "outside@example.com",
    "GIT_COMMITTER_NAME": "Outside Writer",
    "GIT_COMMITTER_EMAIL": "outside@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}

KPTFILE = """apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: {name}
  annotations:
    config.kubernetes.io/local-config: "true"
info:
  description: {description}
"""


def git(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=ENV, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def kptfile(name: str, description: str = "a test package", **sections: str) -> str:
    text = KPTFILE.format(name=name, description=description)
    return text + "".join(sections.values())


def configmap(name: str, namespace: str | None = None, **data: str) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {name}"]
    if namespace:
        lines.append(f"  namespace: {namespace}")
    if data:
        lines.append("data:")
        lines += [f"  {key}: {json.dumps(value)}" for key, value in data.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BareRepo:
    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    @classmethod
    def create(cls, root: Path, name: str, *, branch: str | None = "main") -> BareRepo:
        path = root / f"{name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", str(path))
        repo = cls(path)
        if branch:
            tree = subprocess.run(
                ["git", "mktree"], cwd=path, input="", capture_output=True, text=True, env=ENV, check=True
            ).stdout.strip()
            commit = git("commit-tree", tree, "-m", "Initial commit", cwd=path).strip()
            git("update-ref", f"refs/heads/{branch}", commit, cwd=path)
        return repo

    def refs(self) -> dict[str, str]:
        out = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.path)
        return dict(line.split(" ", 1) for line in out.splitlines())

    def show(self, revision: str, path: str) -> str:
        return git("show", f"{revision}:{path}", cwd=self.path)

    def files(self, revision: str, directory: str) -> dict[str, str]:
        names = git("ls-tree", "-r", "--name-only", revision, "--", directory, cwd=self.path).split()
        prefix = directory.rstrip("/") + "/"
        return {name.removeprefix(prefix): self.show(revision, name) for name in names}

    def outside_commit(
        self,
        *,
        branch: str,
        files: dict[str, str | None],
        message: str,
        tags: tuple[str, ...] = (),
    ) -> str:
        """Commit `files` (None deletes) on `branch` from a separate clone and push it with `tags`."""
        with tempfile.TemporaryDirectory() as work_dir:
            work = Path(work_dir) / "clone"
            git("clone", "--quiet", self.url, str(work))
            if f"refs/heads/{branch}" in self.refs():
                git("checkout", "--quiet", "-B", branch, f"origin/{branch}", cwd=work)
            else:
                git("checkout", "--quiet", "-B", branch, cwd=work)
            for name, text in files.items():
                target = work / name
                if text is None:
                    target.unlink(missing_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            git("add", "--all", cwd=work)
            git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
            for tag in tags:
                git("tag", tag, cwd=work)
            git(
                "push",
                "--quiet",
                "origin",
                f"HEAD:refs/heads/{branch}",
                *[f"refs/tags/{t}" for t in tags],
                cwd=work,
            )
            return git("rev-parse", "HEAD", cwd=work).strip()

    def seed_package(
        self,
        path: str,
        files: dict[str, str] | None = None,
        *,
        branch: str = "main",
        publish: int | None = None,
        workspace: str | None = None,
    ) -> str:
        """Commit package `path` on `branch` (and tag `<path>/v<publish>` with Porch's kpt annotation)."""
        name = path.rsplit("/", 1)[-1]
        content = files if files is not None else {"Kptfile": kptfile(name)}
        message = f"Add {path}"
        tags: tuple[str, ...] = ()
        if publish is not None:
            annotation = {
                "package": path,
                "workspaceName": workspace or f"v{publish}",
                "revision": str(publish),
            }
            message = f"Approving package revision {path}/{publish}\n\nkpt:{json.dumps(annotation)}\n"
            tags = (f"{path}/v{publish}",)
        return self.outside_commit(
            branch=branch,
            files={f"{path}/{file}": text for file, text in content.items()},
            message=message,
            tags=tags,
        )
