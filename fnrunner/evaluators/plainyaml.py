"""Fast YAML for ResourceLists without comments: yaml-rs (a Rust parser) reads, a small block emitter writes.

libyaml through PyYAML costs about 80 ms to read and write a ResourceList of 100 Deployments; this path costs
a few. It reads YAML as kyaml (go-yaml v3) does in the cases that matter for KRM: `yes`/`on` are strings,
`1e3` is a number, timestamps stay strings. One case differs between go-yaml and yaml-rs: an integer with a
leading zero (`defaultMode: 0644`) is octal for go-yaml and libyaml but decimal for yaml-rs, so `load`
refuses such text (`Unsuitable`) and the caller uses libyaml instead.

The emitter writes plain mappings, lists and scalars in block style with two-space indentation and sequences
not indented under their key (as kyaml writes them). A string is written plain only when it is obviously a
string to every YAML reader (a letter first, then letters, digits and `_./@=+-`, with `:` only inside, and
not a YAML 1.1 boolean or null word); every other string is written as a JSON string, which is a valid YAML
double-quoted scalar, so nothing is ever read back as a different value. Values of other types (bytes,
dates) raise `Unsuitable`.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml_rs

if TYPE_CHECKING:
    from fnrunner.evaluators.yamlcomments import Comments

# A plain scalar that is a string for YAML 1.1 and 1.2 readers alike and cannot be mistaken for syntax.
_PLAIN_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_./@=+-]*(?::[A-Za-z0-9_./@=+-]+)*\Z")
# Words that YAML 1.1 readers (and go-yaml's writer, for safety) take as booleans or null.
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
# Characters that may appear unescaped in a YAML double-quoted scalar (printable, not a line break).
_NOT_PRINTABLE = re.compile("[^\x09\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A plain integer with a leading zero, which YAML 1.1 and go-yaml read as octal and yaml-rs as decimal.
# `_ZERO_DIGIT` is a cheap first look: most texts have no "0" followed by a digit at all.
_ZERO_DIGIT = re.compile(r"0[0-9]")
_LEADING_ZERO = re.compile(r"[\s\[,{][-+]?0[0-9]")
# An explicit key (`? `) or a flow collection used as a key (`[a]: b`, `{a: 1}: b`).
_EXPLICIT_KEY = re.compile(r"[\s\[{,]\?(?:[ \n]|$)")
_COLLECTION_KEY = re.compile(r"[\]}] *:(?:[ \n]|$)")


class Unsuitable(ValueError):
    """This text or value is outside what the fast path handles exactly; use the general codec."""


def load(text: str) -> Any:
    """Parse one YAML document. Raises `Unsuitable` for text it would read differently from go-yaml, and
    `ValueError` (yaml-rs's `YAMLDecodeError`) for malformed YAML, duplicate keys or excessive aliases."""
    if _ZERO_DIGIT.search(text) and (_LEADING_ZERO.search(text) or _LEADING_ZERO.match(" " + text[:3])):
        raise Unsuitable("an integer with a leading zero")
    if ("?" in text and _EXPLICIT_KEY.search(" " + text)) or (
        ("]" in text or "}" in text) and _COLLECTION_KEY.search(text)
    ):
        # yaml-rs makes frozensets of collection keys, which nothing downstream can write.
        raise Unsuitable("an explicit or collection key")
    return yaml_rs.loads(text, parse_datetime=False)


def dump(value: Any, comments: Comments | None = None) -> str:
    """Block YAML for plain data (dict, list, str, int, float, bool, None); raises `Unsuitable` otherwise.

    `comments` (from `yamlcomments.find`) are written back at the positions they were found at."""
    lines: list[str] = []
    if isinstance(value, dict) and value:
        _mapping(value, "", lines, comments)
    elif isinstance(value, list) and value:
        _sequence(value, "", lines, comments)
    else:
        lines.append(_scalar(value))
    if comments is not None:
        lines.extend(comments.trailing)
    lines.append("")
    return "\n".join(lines)


def _mapping(
    mapping: dict[Any, Any],
    indent: str,
    lines: list[str],
    comments: Comments | None,
    first: str | None = None,
) -> None:
    # `first` is the prefix of the first line when the mapping starts on a sequence entry's line ("- ").
    prefix = indent if first is None else first
    for key, value in mapping.items():
        head = f"{prefix}{_key(key)}:"
        prefix = indent
        eol = ""
        if comments is not None:
            position = (id(mapping), key)
            if position in comments.before:
                lines.extend(indent + line for line in comments.before[position])
            if position in comments.eol:
                eol = " " + comments.eol[position]
        if isinstance(value, dict):
            if value:
                lines.append(head + eol)
                _mapping(value, indent + "  ", lines, comments)
            else:
                lines.append(head + " {}" + eol)
        elif isinstance(value, list):
            if value:
                lines.append(head + eol)
                _sequence(value, indent, lines, comments)
            else:
                lines.append(head + " []" + eol)
        else:
            lines.append(f"{head} {_scalar(value)}{eol}")


def _sequence(sequence: list[Any], indent: str, lines: list[str], comments: Comments | None) -> None:
    inner = indent + "  "
    for index, item in enumerate(sequence):
        container = isinstance(item, (dict, list)) and item
        eol = ""
        if comments is not None:
            position = (id(sequence), index)
            before = comments.before_item.get(id(item)) if container else comments.before.get(position)
            if before:
                lines.extend(indent + line for line in before)
            if not container and position in comments.eol:
                eol = " " + comments.eol[position]
        if isinstance(item, dict) and item:
            _mapping(item, inner, lines, comments, first=indent + "- ")
        elif isinstance(item, list) and item:
            lines.append(indent + "-")
            _sequence(item, inner, lines, comments)
        else:
            lines.append(f"{indent}- {_scalar(item)}{eol}")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _string(key)
    if isinstance(key, (dict, list)):
        raise Unsuitable("a mapping key that is a collection")
    return _scalar(key)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    raise Unsuitable(f"a value of type {type(value).__name__}")


@lru_cache(maxsize=8192)
def _string(text: str) -> str:
    if _PLAIN_SAFE.match(text) and text.lower() not in _RESERVED:
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    # JSON escapes only control characters; YAML also wants DEL, C1 controls and Unicode line breaks escaped.
    return _NOT_PRINTABLE.sub(_escape, quoted) if _NOT_PRINTABLE.search(quoted) else quoted


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    # YAML 1.1 readers need a dot in a float ("1e+20" would be a string to them).
    if "." not in text:
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa}.0e{exponent}" if exponent else f"{mantissa}.0"
    return text
