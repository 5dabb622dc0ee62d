"""Porch's ref names and revision numbers."""

from __future__ import annotations

from porch_operator.gitstore import refs


def test_revision_numbers_parse_as_porch_does() -> None:
    assert refs.parse_revision("v3") == 3
    assert refs.parse_revision("12") == 12
    assert refs.parse_revision("v03") == 3
    assert refs.parse_revision("v2.0.0") == -1
    assert refs.parse_revision("main") == -1
    assert refs.parse_revision("v") == -1
    assert refs.parse_revision("v 1") == -1
    assert refs.parse_revision("v1_000") == -1, "Go's Atoi takes no underscores"
    assert refs.parse_revision("v99999999999999999999") == -1


def test_ref_names() -> None:
    assert refs.draft_branch("d/p", "ws") == "refs/heads/drafts/d/p/ws"
    assert refs.proposed_branch("d/p", "ws") == "refs/heads/proposed/d/p/ws"
    assert refs.deletion_proposed_branch("d/p", "v2") == "refs/heads/deletionProposed/d/p/v2"
    assert refs.tag("d/p", "v2") == "refs/tags/d/p/v2"
    assert refs.split_last("a/b/c") == ("a/b", "c")
    assert refs.split_last("a") is None and refs.split_last("a/") is None and refs.split_last("/a") is None


def test_the_version_changes_with_any_ref() -> None:
    table = refs.RefTable([refs.RefEntry("refs/heads/main", "a" * 40, "a" * 40)])
    same = refs.RefTable([refs.RefEntry("refs/heads/main", "a" * 40, "a" * 40)])
    assert table.version == same.version
    moved = table.with_updates({"refs/heads/main": "b" * 40})
    assert moved.version != table.version
    assert moved.with_updates({"refs/heads/main": None}).version == refs.RefTable().version
