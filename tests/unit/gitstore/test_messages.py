"""Porch's commit messages: what we write, and how tolerant reading is."""

from __future__ import annotations

from porch_operator.gitstore import messages


def test_draft_and_approval_messages_match_porch() -> None:
    task = {"type": "clone", "clone": {"upstreamRef": {"name": "a<b>&c"}}}
    draft = messages.draft_message(path="dir/app", workspace="ws", task=task)
    assert draft == (
        "Creating new revision by cloning\n\n\n"
        'kpt:{"package":"dir/app","workspaceName":"ws","revision":"0","task":'
        '{"type":"clone","clone":{"upstreamRef":{"name":"a\\u003cb\\u003e\\u0026c"}}}}\n'
    )
    approval = messages.approval_message(path="dir/app", workspace="ws", revision=3)
    annotation = '{"package":"dir/app","workspaceName":"ws","revision":"3"}'
    assert approval == f"Approving package revision dir/app/3\n\nkpt:{annotation}\n"


def test_human_lines() -> None:
    assert messages.human_line(None) == "Intermediate commit"
    assert messages.human_line({"type": "init"}) == "Creating new empty revision"
    assert messages.human_line({"type": "edit"}) == "Creating new revision by copying previous revision"
    assert messages.human_line({"type": "upgrade"}) == "Upgrading revision"
    assert messages.human_line({"type": "render"}) == "Rendering package"
    assert messages.human_line({"type": "frobnicate"}) == "Intermediate commit: frobnicate"


def test_parsing_round_trips_and_skips_invalid_lines() -> None:
    task = {"type": "init", "init": {"description": "ünïcode"}}
    message = messages.draft_message(path="p", workspace="w", task=task)
    message += '  kpt:{invalid:annotation}\nkpt:[1,2]\n kpt:{"package":"q","revision":"v1"}  \n'
    found, invalid = messages.parse(message)
    assert invalid == 2
    assert found == [
        messages.Annotation(package="p", workspace="w", revision="0", task=task),
        messages.Annotation(package="q", revision="v1"),
    ]
    assert found[1].workspace_key == "v1", "old Porch kept the workspace in revision"
    assert messages.parse('kpt:{"package":5}')[1] == 1
    assert messages.parse('kpt:{"package":null,"task":null}')[0] == [messages.Annotation()]
