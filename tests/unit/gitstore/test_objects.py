"""Objects we write ourselves must be byte-identical to what git would write."""

from __future__ import annotations

import datetime
from pathlib import Path

from porch_operator.gitstore import objects
from porch_operator.gitstore.revisions import Signature

from .conftest import empty_remote, git


async def test_trees_blobs_and_commits_match_git(tmp_path: Path) -> None:
    remote = await empty_remote(tmp_path, with_branch=None)
    store = objects.ObjectStore(remote.path)
    try:
        files = {
            "Kptfile": (objects.MODE_FILE, b"kind: Kptfile\n"),
            "a-b": (objects.MODE_FILE, b"1"),
            "a/x": (objects.MODE_EXECUTABLE, b"2"),
            "a.b/y": (objects.MODE_FILE, b"3"),
            "ü/z": (objects.MODE_FILE, b"4"),
        }
        tree = store.build_tree(files)
        # git itself must accept the objects and see the same content (it sorts "a.b" < "a-b"? no: by bytes).
        assert (await git("fsck", "--strict", "--no-dangling", cwd=remote.path)) == ""
        listing = await git("ls-tree", "-r", "-z", tree, cwd=remote.path)
        seen = {entry.split("\t")[1]: entry.split()[0] for entry in listing.split("\0") if entry}
        assert seen == {name: mode for name, (mode, _) in files.items()}
        assert (await git("cat-file", "-p", f"{tree}:a/x", cwd=remote.path)) == "2"

        when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=-7)))
        who = Signature(name="A <B>", email="a@b\n", time=when)
        commit = store.write_commit(tree=tree, parents=[], author=who, committer=who, message="m\n\nkpt:{}\n")
        raw = await git("cat-file", "-p", commit.sha, cwd=remote.path)
        assert f"author A B <a@b> {int(when.timestamp())} -0700" in raw
        assert commit.author == Signature(name="A B", email="a@b", time=when)

        replaced = store.replace(tree, "a/deep/new", store.build_tree({"f": (objects.MODE_FILE, b"x")}))
        assert "a/deep/new/f" in await git("ls-tree", "-r", "--name-only", replaced, cwd=remote.path)
        removed = store.replace(replaced, "a/deep/new", None)
        assert removed == tree, "removing what was added gives the original tree back"
        assert (
            store.replace(store.build_tree({"only/f": (objects.MODE_FILE, b"")}), "only", None)
            == objects.EMPTY_TREE
        )
    finally:
        store.close()
