"""Where the comments of a block-YAML text sit, as positions in the data yaml-rs read from the same text.

yaml-rs reads data and drops comments; ruamel keeps them but its pure-Python round trip is a hundred times
slower. `find` scans the text line by line alongside the data and records each comment against the object
it belongs to: an end-of-line comment against (mapping, key) or (sequence, index), a comment on lines of its
own against the entry that follows it (or the end of the document). Builtin functions change the data in
place, so `plainyaml.dump(output, comments)` puts every comment back on the same objects, wherever they
moved. Objects a function replaces lose their comments, as with any KRM function that rebuilds resources.

The scanner knows block mappings and sequences (compact or indented), single-line plain, quoted and flow
scalars, and block scalars (`|`, `>`). Anything else (anchors, tags, multi-line plain or quoted scalars,
complex keys, several documents), or any disagreement between the lines and the data, raises `Unsuitable`
and the caller uses ruamel's round trip instead: a comment is never put in a wrong place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fnrunner.evaluators.plainyaml import Unsuitable

# A key's or item's position: (id of the mapping or sequence, key or index).
Position = tuple[int, Any]


@dataclass
class Comments:
    """The comments of one text, by position. `keep` holds every container positioned by id, so that no id
    is reused by a new object while the comments are in use."""

    eol: dict[Position, str] = field(default_factory=dict)
    before: dict[Position, list[str]] = field(default_factory=dict)
    # Comment lines before an item that is itself a mapping or sequence, by the item's id (they follow the
    # item when a function reorders the sequence).
    before_item: dict[int, list[str]] = field(default_factory=dict)
    trailing: list[str] = field(default_factory=list)
    keep: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class _Frame:
    indent: int
    container: Any
    keys: list[Any] | None  # a mapping's keys in order; None for a sequence
    seen: int = 0


def find(text: str, data: Any) -> Comments:
    """The comments of `text`, positioned in `data` (what yaml-rs read from it). Raises `Unsuitable`."""
    if not isinstance(data, (dict, list)):
        raise Unsuitable("the document is not a mapping or sequence")
    if "\r" in text or "\t" in text:
        raise Unsuitable("carriage returns or tabs")
    scan = _Scan(data)
    stack, before, keep = scan.stack, scan.comments.before, scan.comments.keep
    # The loop decides how fast this codec is: the common line (a `key: value` without a comment in the
    # mapping already open) is handled inline, everything else by `_Scan.general`.
    for line in text.split("\n"):
        body = line.lstrip(" ")
        if not body:
            continue
        indent = len(line) - len(body)
        if scan.block_indent is not None:
            if indent > scan.block_indent:
                continue
            scan.block_indent = None
        first = body[0]
        if first == "#":
            scan.pending.append(body.rstrip(" "))
            continue
        if "#" in body:
            scan.general(line, body, indent)
            continue
        if first == "-":
            # An item that starts a mapping on its dash line ("- key: value"), the other common line.
            entry = body[1:].lstrip(" ")
            colon = entry.find(":")
            if (
                body[1:2] != " "
                or not entry
                or entry[0] in "-\"'?.[{&*!|>"
                or colon < 1
                or entry[colon + 1 : colon + 2] not in ("", " ")
            ):
                scan.general(line, body, indent)
                continue
            scan.started = True
            if scan.expect is not None:
                opened, parent_indent, compact = scan.expect
                if (
                    opened.__class__ is not list
                    or indent < parent_indent
                    or (indent == parent_indent and not compact)
                ):
                    raise Unsuitable("the lines and the data disagree on a collection")
                scan.expect = None
                keep.append(opened)
                stack.append(_Frame(indent, opened, None))
            else:
                while stack and (
                    stack[-1].indent > indent or (stack[-1].indent == indent and stack[-1].keys is not None)
                ):
                    _close(stack.pop())
                if not stack or stack[-1].indent != indent:
                    raise Unsuitable("unexpected indentation")
            sequence_frame = stack[-1]
            sequence, index = sequence_frame.container, sequence_frame.seen
            if index >= len(sequence) or sequence[index].__class__ is not dict or not sequence[index]:
                raise Unsuitable("the lines and the data disagree on an item")
            sequence_frame.seen = index + 1
            item = sequence[index]
            if scan.pending:
                scan.comments.before_item[id(item)] = scan.pending
                scan.pending = []
            keep.append(item)
            indent = len(line) - len(entry)
            frame = _Frame(indent, item, list(item))
            stack.append(frame)
            body = entry
        elif first in "\"'?.[{":
            scan.general(line, body, indent)
            continue
        else:
            scan.started = True
            if scan.expect is not None:
                opened, parent_indent, _ = scan.expect
                if opened.__class__ is not dict or indent <= parent_indent:
                    raise Unsuitable("the lines and the data disagree on a collection")
                scan.expect = None
                keep.append(opened)
                frame = _Frame(indent, opened, list(opened))
                stack.append(frame)
            else:
                while stack and stack[-1].indent > indent:
                    _close(stack.pop())
                if stack and stack[-1].keys is None and stack[-1].indent == indent:
                    _close(stack.pop())
                if not stack or stack[-1].indent != indent or stack[-1].keys is None:
                    raise Unsuitable("unexpected indentation")
                frame = stack[-1]
        keys, seen = frame.keys, frame.seen
        if keys is None or seen >= len(keys):
            raise Unsuitable("more keys in the lines than in the data")
        key = keys[seen]
        frame.seen = seen + 1
        colon = body.find(":")
        if colon < 0:
            raise Unsuitable("a line that is neither a key nor an item")
        mapping = frame.container
        if scan.pending:
            before[(id(mapping), key)] = scan.pending
            scan.pending = []
        rest = body[colon + 1 :].lstrip(" ")
        value = mapping[key]
        nested = (value.__class__ is dict or value.__class__ is list) and bool(value)
        if not rest:
            if nested:
                scan.expect = (value, indent, True)
        elif rest[0] in "|>":
            scan.block_indent = indent
        elif rest[0] in "&*!" or (nested and rest[0] not in "[{"):
            raise Unsuitable("an anchor, alias or tag, or a value the data does not have")
    return scan.finish()


class _Scan:
    """The state of one scan: open collections, comment lines waiting for their entry, block scalars."""

    def __init__(self, data: Any) -> None:
        self.comments = Comments()
        self.stack: list[_Frame] = []
        self.pending: list[str] = []
        # The collection the previous line opened ("key:" or "-"), the indent of that line, and whether a
        # sequence may start at that same indent (only under a key: kyaml's compact sequences).
        self.expect: tuple[Any, int, bool] | None = (data, -1, False)
        self.block_indent: int | None = None  # inside a block scalar whose parent line has this indent
        self.started = False

    def general(self, line: str, body: str, indent: int) -> None:
        """Any content line but the common one (see `find`)."""
        if line.startswith(("---", "...")):
            if self.started or self.pending or body.rstrip(" ") != "---":
                raise Unsuitable("a document marker inside the text")
            return
        self.started = True
        self._place(line, indent)
        self.pending = []

    def finish(self) -> Comments:
        if self.expect is not None:
            raise Unsuitable("a collection is opened but has no entries")
        while self.stack:
            _close(self.stack.pop())
        self.comments.trailing = self.pending
        return self.comments

    def _place(self, line: str, indent: int) -> None:
        is_item = line.startswith("-", indent) and (len(line) == indent + 1 or line[indent + 1] == " ")
        stack = self.stack
        if self.expect is not None:
            value, parent_indent, compact = self.expect
            self.expect = None
            if indent < parent_indent or (indent == parent_indent and not (compact and is_item)):
                raise Unsuitable("a collection is opened but has no entries")
            if isinstance(value, list) != is_item:
                raise Unsuitable("the lines and the data disagree on a collection's kind")
            self.comments.keep.append(value)
            stack.append(_Frame(indent, value, None if is_item else list(value)))
        else:
            while stack and (
                stack[-1].indent > indent
                or (stack[-1].indent == indent and (stack[-1].keys is None) != is_item)
            ):
                _close(stack.pop())
            if not stack or stack[-1].indent != indent:
                raise Unsuitable("unexpected indentation")
        if is_item:
            self._item(stack[-1], line, indent)
        else:
            self._entry(stack[-1], line, indent, self.pending)

    def _item(self, frame: _Frame, line: str, indent: int) -> None:
        comments, sequence, index = self.comments, frame.container, frame.seen
        if index >= len(sequence):
            raise Unsuitable("more sequence items in the lines than in the data")
        frame.seen += 1
        item = sequence[index]
        start = indent + 1
        while start < len(line) and line[start] == " ":
            start += 1
        rest = line[start:]
        container_item = isinstance(item, (dict, list)) and bool(item)
        if self.pending:
            if container_item:
                comments.before_item[id(item)] = list(self.pending)
            else:
                comments.before[(id(sequence), index)] = list(self.pending)
        if not rest or rest[0] == "#":
            if container_item:
                if rest:
                    raise Unsuitable("a comment on an item's dash line")
                self.expect = (item, indent, False)
            elif item is not None:
                raise Unsuitable("an empty item for a value")
            elif rest:
                comments.eol[(id(sequence), index)] = rest
            return
        if rest.startswith(("- ", "? ")) or rest == "-":
            raise Unsuitable("a nested sequence or complex key on one line")
        if _key_end(rest) is not None:
            if not isinstance(item, dict) or not item:
                raise Unsuitable("the lines and the data disagree on an item's kind")
            comments.keep.append(item)
            mapping = _Frame(start, item, list(item))
            self.stack.append(mapping)
            self._entry(mapping, line, start, [])
            return
        if container_item and rest[0] not in "[{":
            raise Unsuitable("the lines and the data disagree on an item's kind")
        comment, block = _value(rest)
        if comment:
            comments.eol[(id(sequence), index)] = comment
        if block:
            self.block_indent = indent

    def _entry(self, frame: _Frame, line: str, start: int, pending: list[str]) -> None:
        """A `key: value` line whose key starts at `start`."""
        keys = frame.keys
        if keys is None or frame.seen >= len(keys):
            raise Unsuitable("more keys in the lines than in the data")
        key = keys[frame.seen]
        frame.seen += 1
        mapping = frame.container
        text = line[start:]
        end = _key_end(text)
        if end is None:
            raise Unsuitable("a line that is neither a key nor an item")
        if pending:
            self.comments.before[(id(mapping), key)] = list(pending)
        rest = text[end:].lstrip(" ")
        value = mapping[key]
        nested = isinstance(value, (dict, list)) and bool(value)
        if not rest or rest[0] == "#":
            if rest:
                self.comments.eol[(id(mapping), key)] = rest
            if nested:
                self.expect = (value, frame.indent, True)
            return
        if rest[0] in "&*!?" or (nested and rest[0] not in "[{"):
            raise Unsuitable("an anchor, alias, tag or complex key, or a value the data does not have")
        comment, block = _value(rest)
        if comment:
            self.comments.eol[(id(mapping), key)] = comment
        if block:
            self.block_indent = frame.indent


def _key_end(text: str) -> int | None:
    """Where the value starts after `key:` at the start of `text` (None: not a key line)."""
    if not text or text[0] in "#-[{&*!|>%@`,":
        return None
    if text[0] in "\"'":
        close = _quote_end(text)
        if close is None or not text.startswith(":", close):
            return None
        after = close + 1
        return after if after == len(text) or text[after] == " " else None
    position = 0
    while True:
        colon = text.find(":", position)
        if colon < 0:
            return None
        hash_at = text.find(" #", 0, colon)
        if hash_at >= 0:
            return None
        if colon + 1 == len(text) or text[colon + 1] == " ":
            return colon + 1
        position = colon + 1


def _quote_end(text: str) -> int | None:
    """The index after the quoted scalar that opens `text` (None when it does not close on this line)."""
    quote = text[0]
    index = 1
    while True:
        found = text.find(quote, index)
        if found < 0:
            return None
        if quote == '"':
            backslashes = 0
            while text[found - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2:
                index = found + 1
                continue
            return found + 1
        if text.startswith("''", found):
            index = found + 2
            continue
        return found + 1


def _value(rest: str) -> tuple[str, bool]:
    """A scalar value's end-of-line comment ("" when none) and whether it opens a block scalar."""
    first = rest[0]
    if first in "\"'":
        close = _quote_end(rest)
        if close is None:
            raise Unsuitable("a quoted scalar over several lines")
        tail = rest[close:].lstrip(" ")
        if tail and tail[0] != "#":
            raise Unsuitable("text after a quoted scalar")
        return tail, False
    if first in "|>":
        header, sep, comment = rest.partition(" #")
        if header.strip(" ")[1:].strip("+-0123456789"):
            raise Unsuitable("an unusual block scalar header")
        return ("#" + comment if sep else ""), True
    if first in "[{":
        tail = rest[_flow_end(rest) :].lstrip(" ")
        if tail and tail[0] != "#":
            raise Unsuitable("text after a flow collection")
        return tail, False
    hash_at = rest.find(" #")
    if hash_at < 0:
        return "", False
    return rest[hash_at:].lstrip(" "), False


def _flow_end(text: str) -> int:
    """The index after the flow collection that opens `text`; `Unsuitable` when it goes on over lines."""
    depth, index = 0, 0
    while index < len(text):
        char = text[index]
        if char in "\"'" and (index == 0 or text[index - 1] in "[{, :"):
            close = _quote_end(text[index:])
            if close is None:
                break
            index += close
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
        elif char == "#" and text[index - 1] == " ":
            break
        index += 1
    raise Unsuitable("a flow collection over several lines")


def _close(frame: _Frame) -> None:
    size = len(frame.keys) if frame.keys is not None else len(frame.container)
    if frame.seen != size:
        raise Unsuitable("fewer entries in the lines than in the data")
