"""YAML documents of package files: parsing and writing them the way kpt (kyaml) does.

Every engine module that reads or writes YAML goes through here, so that comments, key order and scalar styles
survive a round trip and the text we write matches what `kpt fn render` would write (two-space mappings,
sequences compact or wide as detected per document, no line wrapping, go-yaml's quoting rules).

Several parsers and two emitters sit behind one interface, for speed:

* Documents already written the way we write them (end-of-line comments on map keys allowed, which covers
  the `# kpt-merge` comment of every cloned resource and `# kpt-set:` setters) are read with yaml-rs, a Rust
  parser, and checked line by line against what we would write; quoting and verbatim spellings (`0644`) are
  recovered from the text. This is twenty to fifty times faster than the round-trip parser, and a package is
  in that form after its first render. libyaml through PyYAML is the second choice.
* Everything else (full-line comments, flow style, anchors, unusual layout) is read with ruamel.yaml's
  round-trip parser, which keeps comments and styles on `CommentedMap`/`CommentedSeq` nodes.
* Function output is read with yaml-rs unless it holds comments the input did not have.

Writing uses a small direct emitter for trees it fully understands and falls back to ruamel.yaml otherwise;
the two produce the same text for the same tree (a property test checks this). Callers see only plain Python
containers (dict/list subclasses) and never need to know which path was taken.

Parsing errors are raised as `InvalidSpec` naming the file. Nothing here touches the file system.
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
import json
import math
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Final, Literal, TypeVar, cast

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.anchor import Anchor
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq, Format, merge_attrib
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import CommentMark
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.error import YAMLFutureWarning as RuamelYAMLFutureWarning
from ruamel.yaml.error import YAMLWarning as RuamelYAMLWarning
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    ScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tag import Tag
from ruamel.yaml.tokens import CommentToken

from porch_operator.errors import InvalidSpec

_yaml_rs: Any
try:
    # A Rust parser, twenty times faster than libyaml through PyYAML; optional so that a platform without
    # its wheel still works (slower).
    _yaml_rs = importlib.import_module("yaml_rs")
except ImportError:  # pragma: no cover - the pinned wheel exists for the platforms we ship on
    _yaml_rs = None

_orjson: Any
try:
    # A JSON writer several times faster than the standard library's, for function input; optional likewise.
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - the pinned wheel exists for the platforms we ship on
    _orjson = None

_T = TypeVar("_T")

SeqIndent = Literal["compact", "wide"]
COMPACT: Final[SeqIndent] = "compact"
WIDE: Final[SeqIndent] = "wide"


class RawPlain(str):
    """A plain scalar whose spelling must be kept verbatim (`0012`, `1e3`, `True`, `~`).

    It stands for a number, boolean or null that libyaml would rewrite if we converted it to a Python value;
    keeping the text avoids changing a package just by reading and writing it.
    """

    __slots__ = ()


class Document:
    """One YAML document of a file: its root node and the sequence indentation style it was written with."""

    __slots__ = ("node", "seq_indent")

    def __init__(self, node: Any, seq_indent: SeqIndent) -> None:
        self.node = node
        self.seq_indent: SeqIndent = seq_indent


# ---------------------------------------------------------------------------------------------------------
# Scalar classification (go-yaml v3 rules, which kyaml uses when it writes files)
# ---------------------------------------------------------------------------------------------------------

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
# go-yaml still quotes the YAML 1.1 booleans so that 1.1 readers do not turn them into booleans.
_OLD_BOOLS = frozenset(
    ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"]
)
_SPECIAL_FLOATS = frozenset(
    {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"}
)
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?\Z"
)
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")


def resolves_to_non_string(text: str) -> bool:
    """Whether a plain scalar with this text would be read back as something other than a string."""
    if text in _NULLS or text in _BOOLS or text in _SPECIAL_FLOATS or text == "<<":
        return True
    if not text or text[0] not in "0123456789+-.":
        return False
    plain = text.replace("_", "")
    return bool(
        _GO_INT.match(plain) or _GO_FLOAT.match(plain) or _BASE60.match(text) or _TIMESTAMP.match(text)
    )


def _needs_type_quotes(text: str) -> bool:
    return text in _OLD_BOOLS or resolves_to_non_string(text)


_FLOW_INDICATORS = frozenset(",?[]{}")
_FIRST_CHAR_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _is_printable(ch: str) -> bool:
    code = ord(ch)
    return (
        ch in "\t\n"
        or 0x20 <= code <= 0x7E
        or code == 0x85
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    ) and code != 0xFEFF


_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")
_PLAIN_BREAKERS = re.compile(r"[\t\n]|: |:$|[ \t]#")


def _plain_allowed(text: str) -> bool:
    """libyaml's analysis of whether a string may be written as a plain block scalar."""
    if not text or text[0] == " " or text[-1] == " " or text.startswith(("---", "...")):
        return False
    first = text[0]
    followed_by_space = len(text) == 1 or text[1] in " \t"
    if first in _FIRST_CHAR_INDICATORS or (first in "-?:" and followed_by_space):
        return False
    return not (_PLAIN_BREAKERS.search(text) or _NOT_PRINTABLE.search(text))


def _single_quote_allowed(text: str) -> bool:
    return not ("\t" in text or "\n" in text or _NOT_PRINTABLE.search(text))


def _literal_allowed(text: str) -> bool:
    if _NOT_PRINTABLE.search(text):
        return False
    return " \n" not in text and "\t" not in text and not text.startswith((" ", "\n"))


_SIMPLE = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
_SIMPLE_BUT_QUOTED = _NULLS | _BOOLS | _OLD_BOOLS


@functools.lru_cache(maxsize=1 << 16)
def choose_string_style(text: str) -> str:
    """The style go-yaml would pick for a string without a preferred style: '', "'", '"' or '|'."""
    if _SIMPLE.match(text):
        # The common case: identifiers, names, paths, images without a tag.
        return '"' if text in _SIMPLE_BUT_QUOTED else ""
    if any(ch in text for ch in "\r\x85\u2028\u2029\ufeff"):
        return '"'
    if "\n" in text:
        return "|" if _literal_allowed(text) else '"'
    if _needs_type_quotes(text):
        return '"'
    if text == "=":
        return "'"  # ruamel.yaml reads a plain `=` as YAML 1.1's value key; quoting costs nothing
    if _plain_allowed(text):
        return ""
    return "'" if _single_quote_allowed(text) else '"'


_ESCAPES = {
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


_DOUBLE_QUOTE_AS_IS = re.compile(r"[ !#-\[\]-~]*\Z")  # printable ASCII other than `"` and `\`


def _double_quoted(text: str) -> str:
    if _DOUBLE_QUOTE_AS_IS.match(text):
        return '"' + text + '"'
    out = []
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif _is_printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02X}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    return '"' + "".join(out) + '"'


# ---------------------------------------------------------------------------------------------------------
# Fast path: libyaml reader with YAML 1.2 typing that keeps non-canonical spellings verbatim
# ---------------------------------------------------------------------------------------------------------

_CSafeLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RAW_TAG = "tag:porch.kpt.dev,2026:raw"


class _FastLoader(_CSafeLoader):  # type: ignore[misc]
    """libyaml-backed loader: strings stay strings, only canonical numbers/booleans/null become values."""


_FastLoader.yaml_implicit_resolvers = {}


def _fast_resolve(self: Any, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
    if kind is yaml.ScalarNode and implicit[0]:
        if value == "":
            return "tag:yaml.org,2002:null"
        if value in ("true", "false"):
            return "tag:yaml.org,2002:bool"
        if _CANONICAL_INT.match(value):
            return "tag:yaml.org,2002:int"
        if resolves_to_non_string(value):
            return _RAW_TAG
        return "tag:yaml.org,2002:str"
    if kind is yaml.ScalarNode:
        return "tag:yaml.org,2002:str"
    if kind is yaml.SequenceNode:
        return "tag:yaml.org,2002:seq"
    return "tag:yaml.org,2002:map"


_FastLoader.resolve = _fast_resolve


def _construct_str(loader: Any, node: Any) -> str:
    """Keep a quoting style that differs from the one we would choose, so that writing it back is lossless."""
    value: str = node.value
    style = node.style
    if style in ("'", '"', "|") and choose_string_style(value) != style:
        styled = {"'": SingleQuotedScalarString, '"': DoubleQuotedScalarString}.get(
            style, LiteralScalarString
        )
        return cast(str, styled(value))
    return value


_FastLoader.add_constructor(_RAW_TAG, lambda loader, node: RawPlain(node.value))
_FastLoader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(node.value))
_FastLoader.add_constructor("tag:yaml.org,2002:bool", lambda loader, node: node.value == "true")


class _StyledLoader(_FastLoader):
    """The fast loader that also keeps quoting styles we would not choose (for reading package files)."""


_StyledLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)


def _fast_load(text: str, *, keep_styles: bool = False) -> Any:
    """libyaml parse; `keep_styles` for package files (function output is folded into our own trees)."""
    return yaml.load(text, Loader=_StyledLoader if keep_styles else _FastLoader)


# ---------------------------------------------------------------------------------------------------------
# Round-trip path: ruamel.yaml configured like kyaml's encoder
# ---------------------------------------------------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    """Round-trip representer that quotes new strings the way go-yaml does."""

    def represent_str(self, data: str) -> Any:
        style = choose_string_style(data)
        if style:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)
        return super().represent_str(data)

    def represent_raw(self, data: RawPlain) -> Any:
        tag = _RESOLVER.resolve(ScalarNode, str(data), (True, False))
        return self.represent_scalar(tag, str(data), style=None)

    def represent_none(self, data: Any) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "")


_RESOLVER = VersionedResolver()
_Representer.add_representer(str, _Representer.represent_str)
_Representer.add_representer(RawPlain, _Representer.represent_raw)
_Representer.add_representer(type(None), _Representer.represent_none)


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps unusual spellings of booleans and nulls (`True`, `~`) verbatim, and
    refuses mapping keys that are themselves collections before building them: ruamel.yaml's time to build
    nested collection keys grows exponentially with their depth (`? ? ? … x` of twenty characters takes
    minutes), and no KRM resource has such keys."""

    # The signature is ruamel.yaml's round-trip one, which itself differs from its base class's.
    def construct_mapping(self, node: Any, maptyp: Any, deep: bool = False) -> Any:  # type: ignore[override]
        for key_node, _ in node.value:
            if isinstance(key_node, (MappingNode, SequenceNode)):
                raise ConstructorError(
                    None,
                    None,
                    "a mapping key that is itself a mapping or list is not supported",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, maptyp, deep=deep)

    def construct_yaml_bool(self, node: Any) -> Any:
        if node.value in ("true", "false"):
            return node.value == "true"
        return RawPlain(node.value)

    def construct_yaml_null(self, node: Any) -> Any:
        if node.value == "":
            return None
        return RawPlain(node.value)


_Constructor.add_constructor("tag:yaml.org,2002:bool", _Constructor.construct_yaml_bool)
_Constructor.add_constructor("tag:yaml.org,2002:null", _Constructor.construct_yaml_null)


def _ruamel(seq_indent: SeqIndent = COMPACT) -> YAML:
    handle = YAML(typ="rt")
    handle.Representer = _Representer
    handle.Constructor = _Constructor
    handle.preserve_quotes = True
    handle.width = 1 << 30
    handle.allow_unicode = True
    if seq_indent == WIDE:
        handle.indent(mapping=2, sequence=4, offset=2)
    else:
        handle.indent(mapping=2, sequence=2, offset=0)
    return handle


# ---------------------------------------------------------------------------------------------------------
# Sequence indentation detection (kyaml's DeriveSeqIndentStyle)
# ---------------------------------------------------------------------------------------------------------


def detect_seq_indent(text: str) -> SeqIndent:
    """kyaml's rule: compare the first block sequence item with the key line above it.

    Same indentation means compact, two more spaces means wide; anything else is skipped, and a document
    without a decidable sequence is compact.
    """
    position = text.find("- ")
    while position >= 0:
        begin = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        indent = position - begin
        # a sequence item: the first `- ` of its line comes after spaces only
        key_line = _key_line_before(text, begin) if not text[begin:position].strip(" ") else None
        if key_line is not None:
            trimmed = key_line.strip(" ")
            if trimmed.count(":") == 1 and trimmed.endswith(":"):
                key_indent = len(key_line) - len(key_line.lstrip(" "))
                if indent == key_indent:
                    return COMPACT
                if indent - key_indent == 2:
                    return WIDE
        position = text.find("- ", end)
    return COMPACT


def _key_line_before(text: str, start: int) -> str | None:
    """The last line before the line starting at `start` that is not a full-line comment (its comment cut)."""
    end = start - 1  # the newline that ends the line before
    while end >= 0:
        begin = text.rfind("\n", 0, end) + 1
        line = text[begin:end]
        if not line.strip(" ").startswith("#"):
            return line.split("#", 1)[0]
        end = begin - 1
    return None


# ---------------------------------------------------------------------------------------------------------
# Fast emitter
# ---------------------------------------------------------------------------------------------------------


class _Unsupported(Exception):
    """The fast emitter met something it does not handle; ruamel.yaml writes this tree instead."""


def _is_eol_entry(entry: Any) -> bool:
    """A map key comment the fast emitter can write: one end-of-line comment, nothing else."""
    if not isinstance(entry, list) or len(entry) < 3:
        return False
    token = entry[2]
    others = [part for index, part in enumerate(entry) if index != 2]
    return (
        isinstance(token, CommentToken)
        and token.value.startswith("#")
        and token.value.count("\n") == 1
        and token.value.endswith("\n")
        and not any(others)
    )


def _eol_token(node: Any, key: Any) -> Any:
    comment_attrs = getattr(node, "ca", None)
    if comment_attrs is None or not comment_attrs.items:
        return None
    entry = comment_attrs.items.get(key)
    return entry[2] if entry else None


def key_comment(mapping: Any, key: str) -> str:
    """The end-of-line comment text after `key:` in a mapping ('' when there is none)."""
    token = _eol_token(mapping, key)
    if not isinstance(token, CommentToken):
        return ""
    first = token.value.split("\n", 1)[0].strip()
    return first[1:].strip() if first.startswith("#") else ""


def set_key_comment(mapping: CommentedMap, key: str, text: str) -> None:
    """Set the end-of-line comment after `key:` (full-line comments that followed the old one are kept)."""
    entry = mapping.ca.items.get(key)
    old = entry[2] if entry and len(entry) > 2 else None
    rest = ""
    if isinstance(old, CommentToken) and "\n" in old.value:
        rest = old.value.split("\n", 1)[1]
    token = CommentToken(f"# {text}\n{rest}", CommentMark(0))
    if entry and len(entry) > 2:
        entry[2] = token
    else:
        mapping.ca.items[key] = [None, None, token, None]
    child = mapping.get(key)
    child_attrs = getattr(child, "ca", None) if isinstance(child, CommentedBase) else None
    if child_attrs is not None and child_attrs.comment and child_attrs.comment[0] is not None:
        # ruamel.yaml also records a key's line comment on the child collection; the parent's copy is used.
        child_attrs.comment[0] = None


def _scalar_text(value: Any) -> str:
    """The text of a scalar in block context, or raise `_Unsupported`."""
    kind = type(value)
    if kind is str:
        style = choose_string_style(value)
        if style == "":
            return str(value)
        if style == '"':
            return _double_quoted(value)
        if style == "'":
            return "'" + str(value).replace("'", "''") + "'"
        raise _Unsupported  # literal blocks are written by the caller
    if kind is RawPlain:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return _float_text(value)
    if value is None:
        return ""
    if kind is DoubleQuotedScalarString:
        return _double_quoted(str(value))
    if kind is SingleQuotedScalarString:
        if not _single_quote_allowed(str(value)):
            raise _Unsupported
        return "'" + str(value).replace("'", "''") + "'"
    raise _Unsupported


def _float_text(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _key_text(key: Any) -> str:
    if type(key) is str:
        return _str_key_text(key)
    return _other_key_text(key)


@functools.lru_cache(maxsize=1 << 14)
def _str_key_text(key: str) -> str:
    return _other_key_text(key)


def _other_key_text(key: Any) -> str:
    if type(key) is not str:
        if type(key) in (int, bool) or type(key) is RawPlain:
            return _scalar_text(key)
        raise _Unsupported
    style = choose_string_style(key)
    if style == "" and len(key) < 1024:
        return key
    if style in ('"', "'"):
        return _scalar_text(key)
    raise _Unsupported


def _is_literal(value: Any) -> bool:
    if type(value) is LiteralScalarString:
        return True
    return type(value) is str and "\n" in value and choose_string_style(value) == "|"


def _literal_lines(value: str, indent: int) -> list[str]:
    """Header and content lines of a literal block scalar (content indented by `indent`)."""
    if not _literal_allowed(value):
        raise _Unsupported
    if value.endswith("\n\n") or value == "\n":
        raise _Unsupported  # keep-chomping blocks need ruamel.yaml's document end marker
    chomp = "" if value.endswith("\n") else "-"
    body = value[:-1] if value.endswith("\n") else value
    pad = " " * indent
    lines = ["|" + chomp]
    for line in body.split("\n"):
        lines.append(pad + line if line else "")
    return lines


# Scalars written inline by their `_scalar_text`: kept spellings and quoted strings.
_STYLED_SCALARS: Final = frozenset({RawPlain, DoubleQuotedScalarString, SingleQuotedScalarString})


class _FastEmitter:
    """Writes block-style YAML for plain trees exactly as the configured ruamel.yaml dumper would."""

    def __init__(self, seq_indent: SeqIndent, *, track: bool = False) -> None:
        self.wide = seq_indent == WIDE
        self.out: list[str] = []
        # With `track`, where[i] is the (container, key) whose scalar value is written on output line i.
        self.where: list[tuple[Any, Any] | None] | None = [] if track else None

    def _line(self, text: str, location: tuple[Any, Any] | None = None) -> None:
        self.out.append(text)
        if self.where is not None:
            self.where.append(location)

    def document(self, node: Any) -> str:
        if isinstance(node, dict):
            if not node:
                return "{}\n"
            self.mapping(node, 0)
        elif isinstance(node, list):
            if not node:
                return "[]\n"
            self.sequence(node, 0)
        else:
            raise _Unsupported
        return "\n".join(self.out) + "\n"

    def _check_container(self, node: Any, inherited: Any = None) -> None:
        """Refuse containers with features the fast emitter does not write (ruamel.yaml writes those)."""
        if not isinstance(node, CommentedBase):
            return
        comment_attrs = getattr(node, "ca", None)
        if comment_attrs is not None:
            own = comment_attrs.comment
            if own and (any(own[1:]) or (own[0] is not None and own[0] is not inherited)):
                raise _Unsupported
            if comment_attrs.end:
                raise _Unsupported
            if comment_attrs.items and (
                not isinstance(node, dict) or not all(_is_eol_entry(e) for e in comment_attrs.items.values())
            ):
                raise _Unsupported
        fmt = getattr(node, Format.attrib, None)
        if fmt is not None and fmt.flow_style():
            raise _Unsupported
        anchor = getattr(node, Anchor.attrib, None)
        if anchor is not None and anchor.value is not None:
            raise _Unsupported
        tag = getattr(node, Tag.attrib, None)
        if getattr(node, merge_attrib, None) or (tag is not None and tag.trval is not None):
            raise _Unsupported

    def mapping(
        self, node: dict[Any, Any], indent: int, first_prefix: str | None = None, inherited: Any = None
    ) -> None:
        plain = type(node) is dict
        # Keys of a `CommentedMap` that carry no comment are written inline like a plain dict's; after the
        # check below such a map has no merged keys, so its own (ordered) items are read directly.
        items: Iterable[tuple[Any, Any]]
        commented: dict[Any, Any] | None = None
        if plain:
            items = node.items()
        else:
            self._check_container(node, inherited)
            if type(node) is CommentedMap:
                items = OrderedDict.items(node)
                commented = node.ca.items
            else:
                items = node.items()
        pad = " " * indent
        prefix = pad if first_prefix is None else first_prefix
        out, where = self.out, self.where
        for key, value in items:
            head = prefix + (_str_key_text(key) if type(key) is str else _other_key_text(key)) + ":"
            prefix = pad
            if plain or (commented is not None and key not in commented):
                # The common lines, written here directly: a key with a string (not a literal block), an
                # integer, a boolean or null; `_scalar_text` and `entry` write them the same way.
                kind = type(value)
                line = None
                if kind is str:
                    style = choose_string_style(value)
                    if style == "":
                        line = head + " " + value
                    elif style == '"':
                        line = head + " " + _double_quoted(value)
                    elif style == "'":
                        line = head + " '" + value.replace("'", "''") + "'"
                elif kind is int:
                    line = head + " " + str(value)
                elif kind is bool:
                    line = head + (" true" if value else " false")
                elif value is None:
                    line = head
                elif kind in _STYLED_SCALARS:
                    text = _scalar_text(value)
                    line = head + " " + text if text else head
                elif (kind is dict or kind is list) and value:
                    out.append(head)
                    if where is not None:
                        where.append((node, key))
                    if kind is dict:
                        self.mapping(value, indent + 2)
                    else:
                        self.sequence(value, indent + 2 if self.wide else indent, checked=True)
                    continue
                if line is not None:
                    out.append(line)
                    if where is not None:
                        where.append((node, key))
                    continue
            token = None if plain else _eol_token(node, key)
            self.entry(head, value, indent, token, (node, key))

    def entry(
        self, head: str, value: Any, indent: int, token: Any = None, location: tuple[Any, Any] | None = None
    ) -> None:
        eol = (" " + token.value.rstrip("\n")) if token is not None else ""
        if isinstance(value, dict):
            if not value:
                self._check_container(value, token)
                self._line(head + " {}" + eol, location)
                return
            self._line(head + eol, location)
            self.mapping(value, indent + 2, inherited=token)
        elif isinstance(value, list):
            if not value:
                self._check_container(value, token)
                self._line(head + " []" + eol, location)
                return
            self._line(head + eol, location)
            self._check_container(value, token)
            self.sequence(value, indent + 2 if self.wide else indent, checked=True)
        elif _is_literal(value):
            if token is not None:
                raise _Unsupported
            lines = _literal_lines(str(value), indent + 2)
            self._line(head + " " + lines[0], location)
            for line in lines[1:]:
                self._line(line)
        else:
            text = _scalar_text(value)
            self._line((head + " " + text if text else head) + eol, location)

    def sequence(
        self, node: list[Any], indent: int, first_prefix: str | None = None, *, checked: bool = False
    ) -> None:
        if not checked:
            self._check_container(node)
        pad = " " * indent
        first = True
        out, where = self.out, self.where
        for index, item in enumerate(node):
            prefix = (first_prefix if (first and first_prefix is not None) else pad) + "- "
            first = False
            if type(item) is str and choose_string_style(item) == "":
                out.append(prefix + item)  # the common case, as `_scalar_text` writes it
                if where is not None:
                    where.append((node, index))
            elif isinstance(item, dict) and item:
                self.mapping(item, indent + 2, first_prefix=prefix)
            elif isinstance(item, list) and item:
                if self.wide:
                    raise _Unsupported  # ruamel.yaml writes nested wide sequences oddly; let it do so
                self.sequence(item, indent + 2, first_prefix=prefix)
            elif isinstance(item, (dict, list)):
                self._check_container(item)
                self._line(prefix + ("{}" if isinstance(item, dict) else "[]"))
            elif _is_literal(item):
                lines = _literal_lines(str(item), indent + 2)
                self._line(prefix + lines[0])
                for line in lines[1:]:
                    self._line(line)
            else:
                self._line(prefix + _scalar_text(item), (node, index))


# ---------------------------------------------------------------------------------------------------------
# Public interface
# ---------------------------------------------------------------------------------------------------------

# A separator line starts with `---` or `...` followed by a space, a tab or its end; found after a newline
# (a pattern that begins with a literal is searched for far faster than one anchored with `^`).
_SEPARATOR_AFTER_NEWLINE: Final = re.compile(r"\n(?:---|\.\.\.)(?=[ \t\n]|\Z)")


def _split_documents(text: str) -> list[str] | None:
    """Split a stream into document texts, or None when the stream is not simple enough to split by lines.

    Documents are separated by `---` (or `...`) lines; a separator line with anything after it (`--- !tag`,
    `--- # comment`) is not simple.
    """
    starts = [match.start() + 1 for match in _SEPARATOR_AFTER_NEWLINE.finditer(text)]
    if text.startswith(("---", "...")) and (len(text) == 3 or text[3] in " \t\n"):
        starts.insert(0, 0)
    pieces = []
    start = 0
    for line_start in starts:
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end < 0 else line_end
        if text[line_start:line_end].strip() not in ("---", "..."):
            return None
        pieces.append(text[start:line_start])
        start = line_end
    pieces.append(text[start:])
    documents = []
    for piece in pieces:
        body = piece.strip("\n")
        if body.strip():
            documents.append(body + "\n")
    return documents


_NOT_LOADED: Final = object()


def _rust_load_canonical(body: str, seq_indent: SeqIndent) -> tuple[Any, list[Any]] | None:
    """Parse with yaml-rs and recover the spellings it drops (quotes, `0644`, `True`) from the text.

    yaml-rs is far faster than PyYAML but keeps no styles; we write the tree back, compare it line by line
    with the source and, where only a scalar's spelling differs, store that spelling on the tree. Returns the
    tree and, for each line, the (container, key) written on it; None when anything else differs (the caller
    then falls back to slower parsers).
    """
    if _yaml_rs is None:
        return None
    try:
        node = _yaml_rs.loads(body, parse_datetime=False)
    except (_yaml_rs.YAMLDecodeError, ValueError, TypeError, RecursionError, OverflowError):
        return None
    if not isinstance(node, dict):
        return None
    emitter = _FastEmitter(seq_indent, track=True)
    try:
        emitted = emitter.document(node)
    except (_Unsupported, RecursionError):
        return None
    assert emitter.where is not None
    if emitted == body:
        return node, emitter.where
    wanted = body.split("\n")
    written = emitted.split("\n")
    if len(wanted) != len(written):
        return None
    where = emitter.where
    for index, (source, ours) in enumerate(zip(wanted, written, strict=True)):
        # (An empty root map or list is written as `{}`/`[]` without tracking: no location there.)
        location = where[index] if index < len(where) else None
        if source != ours and not _recover_spelling(source, ours, location):
            return None
    return node, emitter.where


# A double-quoted scalar without escapes: the spelling `_double_quoted` gives such a string.
_DOUBLE_QUOTED_AS_IS: Final = re.compile(r'"[ !#-\[\]-~]*"\Z')
_LONGEST_CANONICAL_INT: Final = 18  # digits that always fit the 64-bit integers yaml-rs reads


def _token_value(token: str) -> Any:
    """The scalar the emitter writes as `token` on a line of its own, or raise `_Unsupported`.

    Only spellings whose value no YAML reader can take differently are read here: plain strings the emitter
    writes plain, `true`/`false`, canonical 64-bit integers and quoted strings without escapes (kept as
    styled strings when the emitter would not have quoted them). Everything else (floats, nulls spelled out,
    verbatim numbers, escapes, block scalars, flow collections) is left to the parsers.
    """
    first = token[:1]
    if first == "'":
        value = token[1:-1].replace("''", "'")
        if len(token) < 2 or "'" + value.replace("'", "''") + "'" != token:
            raise _Unsupported
        if choose_string_style(value) == "'":
            return value
        if not _single_quote_allowed(value):
            raise _Unsupported
        return SingleQuotedScalarString(value)
    if first == '"':
        if not _DOUBLE_QUOTED_AS_IS.match(token):
            raise _Unsupported
        value = token[1:-1]
        return value if choose_string_style(value) == '"' else DoubleQuotedScalarString(value)
    if token in {"true", "false"}:
        return token == "true"
    if _CANONICAL_INT.match(token):
        number = int(token)
        if len(token) > _LONGEST_CANONICAL_INT or str(number) != token:
            raise _Unsupported  # `-0` and numbers past 64 bits keep their spelling (the parsers do that)
        return number
    if choose_string_style(token) != "":
        raise _Unsupported
    return token


# What `_line_entry` and `_line_item` return besides scalars.
_OPEN: Final = object()  # `key:` with nothing after it: a nested block follows, or the value is null
_EMPTY_MAP: Final = object()
_EMPTY_LIST: Final = object()
_MAP_ITEM: Final = object()  # `- key: ...`: a sequence item that is a map, its first entry on this line
_NOT_REMEMBERED: Final = object()
_LONGEST_REMEMBERED_LINE: Final = 200
_MOST_REMEMBERED_LINES: Final = 1 << 15
# Lines repeat across the resources of a package (and across packages): each distinct one is worked out once.
# `_line_entry` and `_line_item` are pure functions of the text, so remembering them changes nothing but the
# time; long lines are not kept, and a full memo is emptied (the reader looks entries up inline: a dict is
# far cheaper to consult than a cached function).
_ENTRIES: Final[dict[str, tuple[str, Any]]] = {}
_ITEMS: Final[dict[str, Any]] = {}


def _remember(memo: dict[str, Any], content: str, value: Any) -> Any:
    if len(content) <= _LONGEST_REMEMBERED_LINE:
        if len(memo) >= _MOST_REMEMBERED_LINES:
            memo.clear()
        memo[content] = value
    return value


def _line_entry(content: str) -> tuple[str, Any]:
    """(key, value) of a map entry line without its indentation, or raise `_Unsupported`."""
    separator = content.find(": ")
    if separator >= 0:
        key, token = content[:separator], content[separator + 2 :]
    elif content.endswith(":"):
        key, token = content[:-1], None
    else:
        raise _Unsupported
    if _str_key_text(key) != key:
        raise _Unsupported
    if token is None:
        return key, _OPEN
    if token == "{}":
        return key, _EMPTY_MAP
    if token == "[]":
        return key, _EMPTY_LIST
    return key, _token_value(token)


def _line_item(content: str) -> Any:
    """The value of a sequence item line after its `- `, `_MAP_ITEM`, or raise `_Unsupported`."""
    if content[:1] not in ("'", '"') and (": " in content or content.endswith(":")):
        return _MAP_ITEM
    if content == "{}":
        return _EMPTY_MAP
    if content == "[]":
        return _EMPTY_LIST
    if not content or content.startswith("- "):
        raise _Unsupported  # nested sequences and null items are left to the parsers
    return _token_value(content)


def _read_canonical(
    body: str, seq_indent: SeqIndent
) -> tuple[dict[Any, Any], list[Any], dict[int, str]] | None:
    """Read a document that is exactly what `_FastEmitter` writes, line by line, without a YAML parser.

    Each line is one map entry (`key: value`, or `key:` before a nested block or for null) or one
    sequence item (`- value`, or `- key: ...` opening a map), at exactly the indentation the emitter gives
    it, and every key and scalar is spelled as the emitter spells it (`_line_entry`, `_line_item`). Anything
    else gives None, and the caller reads the document another way (`_rust_load_canonical`). As nothing is
    accepted that the emitter would write differently, writing the tree back gives the text back, which the
    other readers can only ensure by emitting a copy and comparing. End-of-line comments are taken off each
    line as `_split_comments` takes them off a document without block scalars. Returns the tree, the
    (container, key) written on each line (as the emitter's tracking gives it) and the comments by line.
    """
    lines = body.split("\n")
    if lines.pop() != "":
        return None
    comments: dict[int, str] = {}
    entries, items = _ENTRIES, _ITEMS
    wide = seq_indent == WIDE
    root: dict[Any, Any] = {}
    where: list[tuple[Any, Any] | None] = []
    # Open containers, innermost last: (column of their keys or `- ` indicators, container, is a sequence).
    stack: list[tuple[int, Any, bool]] = [(0, root, False)]
    pending: tuple[dict[Any, Any], Any, int] | None = None  # a `key:` whose block may follow
    block: Any
    try:
        for number, text in enumerate(lines):
            line = text
            if "#" in text:
                taken = _take_comment(text, comments, number)
                if taken is None:
                    return None
                line = taken
            content = line.lstrip(" ")
            indent = len(line) - len(content)
            item = content[:2] == "- "
            if pending is not None:
                parent, key, column = pending
                pending = None
                if item and indent == (column + 2 if wide else column):
                    parent[key] = block = []
                    stack.append((indent, block, True))
                elif indent == column + 2 and not item:
                    parent[key] = block = {}
                    stack.append((indent, block, False))
            column, container, in_sequence = stack[-1]
            while indent != column or item != in_sequence:
                # A line indented less ends the innermost container; so does, for a sequence written at the
                # indentation of its key, the next key of that map. Anything else is not our layout.
                if indent < column or (in_sequence and indent == column):
                    stack.pop()
                    column, container, in_sequence = stack[-1]
                else:
                    return None
            if item:
                content = content[2:]
                value = items.get(content, _NOT_REMEMBERED)
                if value is _NOT_REMEMBERED:
                    value = _remember(items, content, _line_item(content))
                if value is not _MAP_ITEM:
                    if value is _EMPTY_MAP or value is _EMPTY_LIST:
                        where.append(None)
                        value = {} if value is _EMPTY_MAP else []
                    else:
                        where.append((container, len(container)))
                    container.append(value)
                    continue
                column += 2
                if column > 2 * MAX_DEPTH:
                    return None  # the parsers and the shape check explain this one
                item_map: dict[Any, Any] = {}
                container.append(item_map)
                container = item_map
                stack.append((column, container, False))
            entry = entries.get(content)
            if entry is None:
                entry = _remember(entries, content, _line_entry(content))
            key, value = entry
            if key in container:
                return None
            where.append((container, key))
            if value is _OPEN:
                value = None
                if column <= 2 * MAX_DEPTH:
                    pending = (container, key, column)
            elif value is _EMPTY_MAP:
                value = {}
            elif value is _EMPTY_LIST:
                value = []
            container[key] = value
    except _Unsupported:
        return None
    return root, where, comments


_BLOCK_INDICATORS = ("|", "|-", "|+", ">", ">-", ">+")
_BLOCK_LINE = re.compile(r"[|>][-+]?[ ]*(?:#.*)?$", re.MULTILINE)


def _split_comments(chunk: str) -> tuple[str, dict[int, str]] | None:
    """Take end-of-line comments off a document's lines: (text without them, {line: comment}).

    Lines inside block scalars are text and are left alone. None when a comment cannot be taken off safely:
    a full-line comment, a `#` that may be inside quotes, a comment after a block scalar indicator, or one
    not written one space after its line (the emitter writes exactly one).
    """
    if _BLOCK_LINE.search(chunk):
        return _split_comments_by_line(chunk)
    # No block scalars to step over: only the lines holding a `#` matter, found without splitting the text.
    comments: dict[int, str] = {}
    pieces: list[str] = []
    taken = 0
    found = chunk.find("#")
    while found >= 0:
        begin = chunk.rfind("\n", 0, found) + 1
        end = chunk.find("\n", found)
        end = len(chunk) if end < 0 else end
        line = chunk[begin:end]
        cut = _comment_cut(line)
        if cut is None:
            return None
        if cut >= 0:
            comments[chunk.count("\n", 0, begin)] = line[cut + 1 :]
            pieces.append(chunk[taken : begin + cut])
            taken = end
        found = chunk.find("#", end)
    pieces.append(chunk[taken:])
    return "".join(pieces), comments


def _take_comment(line: str, comments: dict[int, str], number: int) -> str | None:
    """`line` without its end-of-line comment, which goes to `comments[number]`; None when not safe."""
    cut = _comment_cut(line)
    if cut is None:
        return None
    if cut < 0:
        return line
    comments[number] = line[cut + 1 :]
    return line[:cut]


def _comment_cut(line: str) -> int | None:
    """Where the end-of-line comment of a line starts (at its space), -1 for none, None when not safe."""
    if line.lstrip(" ").startswith("#"):
        return None
    position = line.find(" #")
    if position < 0:
        return -1  # a `#` not after a space is text (`http://host/#anchor`)
    if "'" in line[:position] or '"' in line[:position]:
        return None
    before = line[:position]
    if before.endswith(" ") or before.endswith(_BLOCK_INDICATORS):
        return None
    return position


def _split_comments_by_line(chunk: str) -> tuple[str, dict[int, str]] | None:
    lines = chunk.split("\n")
    comments: dict[int, str] = {}
    block_indent: int | None = None
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if "#" in line:
            taken = _take_comment(line, comments, index)
            if taken is None:
                return None
            lines[index] = taken
        if lines[index].endswith(_BLOCK_INDICATORS):
            block_indent = indent
    return "\n".join(lines), comments


def _attach_comments(node: Any, where: list[Any], comments: dict[int, str]) -> Any:
    """Put end-of-line comments on the map keys written on those lines; None when one has no map key."""
    wanted: dict[int, list[tuple[Any, str]]] = {}
    for index, text in comments.items():
        location = where[index] if index < len(where) else None
        if location is None or not isinstance(location[0], dict):
            return None
        container, key = location
        wanted.setdefault(id(container), []).append((key, text))
    converted: dict[int, CommentedMap] = {}

    def convert(container: dict[Any, Any]) -> CommentedMap:
        commented = container if isinstance(container, CommentedMap) else commented_map(container.items())
        for key, text in wanted[id(container)]:
            commented.ca.items[key] = [None, None, CommentToken(text + "\n", CommentMark(0)), None]
        converted[id(container)] = commented
        return commented

    root = convert(node) if id(node) in wanted else node
    stack = [root]
    while stack and len(converted) < len(wanted):
        current = stack.pop()
        items = current.items() if isinstance(current, dict) else enumerate(current)
        for key, value in list(items):
            child = value
            if isinstance(child, dict) and id(child) in wanted and id(child) not in converted:
                child = convert(child)
                current[key] = child
            if isinstance(child, dict | list):
                stack.append(child)
    return root if len(converted) == len(wanted) else None


def _recover_spelling(source: str, ours: str, location: tuple[Any, Any] | None) -> bool:
    """Store on the tree the spelling a scalar has in the source line; False when that is not possible."""
    if location is None:
        return False
    container, key = location
    value = container[key]
    try:
        text = _scalar_text(value)
    except _Unsupported:
        return False
    if not ours.endswith(text):
        return False
    prefix = ours[: len(ours) - len(text)]
    if not source.startswith(prefix):
        return False
    token = source[len(prefix) :]
    spelled: Any = None
    if isinstance(value, str) and len(token) >= 2 and token[0] == token[-1] == "'":
        if token[1:-1].replace("''", "'") == value and _single_quote_allowed(value):
            spelled = SingleQuotedScalarString(value)
    elif isinstance(value, str) and len(token) >= 2 and token[0] == token[-1] == '"':
        if _double_quoted(value) == token:
            spelled = DoubleQuotedScalarString(value)
    elif resolves_to_non_string(token) and _plain_allowed(token):
        spelled = RawPlain(token)
    if spelled is None or _scalar_text(spelled) != token:
        return False
    container[key] = spelled
    return True


def _fast_parse(text: str, cache: DocumentCache | None = None) -> list[Document] | None:
    """Documents that are already written the way we write them, read without the round-trip parser.

    None when any document is not (comments other than the kpt merge comment, unusual layout, ...).
    """
    if "\r" in text or "\t" in text or "&" in text or "!" in text:
        return None
    chunks = _split_documents(text)
    if chunks is None:
        return None
    documents = []
    for chunk in chunks:
        document = cache.get(chunk) if cache is not None else None
        if document is None:
            document = _fast_parse_chunk(chunk)
            if document is None:
                return None
            if cache is not None:
                cache.put(chunk, document)
        documents.append(document)
    return documents


class DocumentCache:
    """Parsed documents keyed by their text, shared read-only within one operation that reads them often.

    An upgrade reads three revisions of one package (the local copy, the upstream it was cloned from and the
    new upstream), and most of their documents are usually identical. With a cache each distinct text is
    parsed once and every reader of that text gets the *same* tree: nothing is copied. The trees are
    therefore read-only: a caller that wants to change one first takes `copy_tree` of it (`owns` says whether
    a tree is one of the cache's). In return the cache knows the exact text of each tree it holds
    (`text_of`): a tree nobody changed is written back as that text without running the emitter. Only
    documents read by the fast parsers are kept (their text is exactly what the emitter writes for them).

    Bounded: at most `max_documents` entries and `max_chars` characters of document text; the least recently
    used entries are dropped first (a dropped tree stays valid, and read-only, for whoever holds it). Keys
    are the texts themselves, so nothing ever needs invalidating. A cache serves one operation and is then
    dropped.
    """

    def __init__(self, *, max_documents: int = 10_000, max_chars: int = 16 * 1024 * 1024) -> None:
        self.max_documents = max_documents
        self.max_chars = max_chars
        self._entries: dict[str, Document] = {}
        # id(tree) -> (tree, text, seq_indent) for every tree handed out, kept for the cache's lifetime: a
        # tree dropped from the entries may still be held by several readers and must stay read-only.
        self._texts: dict[int, tuple[Any, str, SeqIndent]] = {}
        self._derived: dict[tuple[int, Hashable], Any] = {}
        self._chars = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def chars(self) -> int:
        """Characters of document text currently held."""
        return self._chars

    def get(self, text: str) -> Document | None:
        """The (shared, read-only) document parsed from `text`, or None when it is not cached."""
        document = self._entries.pop(text, None)
        if document is None:
            self.misses += 1
            return None
        self._entries[text] = document  # most recently used last
        self.hits += 1
        return Document(document.node, document.seq_indent)

    def put(self, text: str, document: Document) -> None:
        """Remember the document parsed from `text`; from now on its tree must not be changed."""
        if len(text) > self.max_chars or self.max_documents <= 0:
            return
        old = self._entries.pop(text, None)
        if old is not None:
            self._chars -= len(text)
        self._entries[text] = Document(document.node, document.seq_indent)
        self._texts[id(document.node)] = (document.node, text, document.seq_indent)
        self._chars += len(text)
        while len(self._entries) > self.max_documents or self._chars > self.max_chars:
            oldest = next(iter(self._entries))
            del self._entries[oldest]
            self._chars -= len(oldest)

    def owns(self, node: Any) -> bool:
        """Whether `node` is a tree this cache handed out (and which must therefore not be changed)."""
        entry = self._texts.get(id(node))
        return entry is not None and entry[0] is node

    def derived(self, node: Any, what: Hashable, compute: Callable[[Any], _T]) -> _T:
        """`compute(node)`, worked out once per shared tree and `what` (a shared tree never changes)."""
        if not self.owns(node):
            return compute(node)
        key = (id(node), what)
        if key in self._derived:
            return cast(_T, self._derived[key])
        value = self._derived[key] = compute(node)
        return value

    def text_of(self, document: Document) -> str | None:
        """The text `document` was parsed from, when its tree is one of the cache's; else None.

        The emitter writes exactly this text for the (unchanged) tree with the document's sequence
        indentation.
        """
        entry = self._texts.get(id(document.node))
        if entry is None or entry[0] is not document.node or entry[2] != document.seq_indent:
            return None
        return entry[1]


def copy_tree(node: Any) -> Any:
    """A deep copy of a tree; fast for plain containers and maps with end-of-line key comments only.

    Scalars (including styled and verbatim ones) are immutable and shared. Trees with other ruamel.yaml
    metadata are copied with `copy.deepcopy`.
    """
    kind = type(node)
    if kind is dict:
        immutable = _IMMUTABLE
        return {key: value if type(value) in immutable else copy_tree(value) for key, value in node.items()}
    if kind is list:
        return [value if type(value) in _IMMUTABLE else copy_tree(value) for value in node]
    if kind is CommentedMap and _only_eol_key_comments(node):
        copied = commented_map(
            (key, value if type(value) in _IMMUTABLE else copy_tree(value))
            for key, value in OrderedDict.items(node)  # no merge keys (checked): its own items, in order
        )
        _copy_key_comments(node, copied)
        return copied
    if kind in _IMMUTABLE:
        return node
    return copy.deepcopy(node)


def copy_level(node: Any) -> Any:
    """A copy of one map or list that shares its children with `node`: what a change to a shared tree copies.

    Plain containers and maps whose only metadata are end-of-line key comments (every tree the document cache
    shares is made of these) are copied one level deep; anything else is copied whole (`copy_tree`), which a
    caller that finds list elements by identity must not rely on.
    """
    kind = type(node)
    if kind is dict:
        return dict(node)
    if kind is list:
        return list(node)
    if kind is CommentedMap and _only_eol_key_comments(node):
        copied = commented_map(OrderedDict.items(node))
        _copy_key_comments(node, copied)
        return copied
    return copy_tree(node)


def _copy_key_comments(source: CommentedMap, target: CommentedMap) -> None:
    """Give `target` copies of the end-of-line key comments of `source`."""
    for key, entry in source.ca.items.items():
        token = entry[2]
        target.ca.items[key] = [None, None, CommentToken(token.value, CommentMark(token.column)), None]


_IMMUTABLE: Final = frozenset(
    {
        str,
        int,
        bool,
        float,
        type(None),
        RawPlain,
        DoubleQuotedScalarString,
        SingleQuotedScalarString,
    }
)


def _only_eol_key_comments(node: CommentedMap) -> bool:
    """Whether a map's only ruamel.yaml metadata are end-of-line comments after its keys."""
    comment_attrs = node.ca
    if comment_attrs.comment or comment_attrs.end:
        return False
    for entry in comment_attrs.items.values():
        if len(entry) != 4 or not _is_eol_entry(entry):
            return False
    tag = getattr(node, Tag.attrib, None)
    return (
        getattr(node, merge_attrib, None) is None
        and getattr(node, Anchor.attrib, None) is None
        and getattr(node, Format.attrib, None) is None
        and (tag is None or tag.trval is None)
    )


def _fast_parse_chunk(chunk: str, *, read_lines: bool = True) -> Document | None:
    """A document already in our form, read without the round-trip parser; None when it is not.

    `read_lines=False` skips the line reader (tests compare it with the readers it stands in front of).
    """
    body = chunk
    comments: dict[int, str] = {}
    seq_indent = detect_seq_indent(chunk)
    # The line reader takes end-of-line comments off as `_split_comments` does when no line may open a block
    # scalar (it reads no block scalars); otherwise the comments are split off first and yaml-rs reads.
    read = (
        _read_canonical(chunk, seq_indent)
        if read_lines and not ("#" in chunk and _BLOCK_LINE.search(chunk))
        else None
    )
    loaded: tuple[Any, list[Any]] | None = None
    if read is not None:
        node, where, comments = read
        loaded = node, where
    else:
        if "#" in chunk:
            split = _split_comments(chunk)
            if split is None:
                return None
            body, comments = split
        loaded = _rust_load_canonical(body, seq_indent)
    if loaded is not None:
        node, where = loaded
        if comments:
            # Written back, each comment follows its line after one space (`_split_comments` made sure the
            # source has exactly one); the rest is what was verified.
            node = _attach_comments(node, where, comments)
            if node is None:
                return None
        if "*" in body or _deeper_than(body, _LONGEST_SAFE_PREFIX):
            # Without aliases the text bounds the size, and in block style indentation bounds the depth.
            try:
                _check_shape(node, "document")
            except InvalidSpec:
                return None
        return Document(node, seq_indent)
    node = _try_fast_load(body, keep_styles=True)
    if node is _NOT_LOADED or not isinstance(node, dict):
        return None
    if comments:
        # Without yaml-rs only the merge comment on `metadata:` is placed here.
        lines = body.split("\n")
        if len(comments) != 1 or lines[next(iter(comments))] != "metadata:":
            return None
        node = CommentedMap(node)
        text = next(iter(comments.values()))
        node.ca.items["metadata"] = [None, None, CommentToken(text + "\n", CommentMark(0)), None]
    try:
        _check_shape(node, "document")
        emitted = _FastEmitter(seq_indent).document(node)
    except (InvalidSpec, _Unsupported, RecursionError):
        return None
    return Document(node, seq_indent) if emitted == chunk else None


MAX_DEPTH: Final = 100
"""Deepest nesting of maps and lists accepted in a document (Kubernetes objects stay far below)."""
MAX_NODES: Final = 1_000_000
"""Most nodes a document may expand to (aliases count every time they are used: no billion laughs)."""
# A block collection nests in another with at least one more column of spaces and `- ` indicators for every
# two levels (a sequence written at the indentation of its key adds none, its maps two), so a document whose
# lines have at most this prefix is at most 2 * prefix + 3 levels deep: within `MAX_DEPTH` without a walk.
_LONGEST_SAFE_PREFIX: Final = (MAX_DEPTH - 3) // 2


def _check_shape(node: Any, where: str) -> None:
    """Refuse trees that are too deep or expand (through aliases) to too many nodes."""
    if _within_shape_limits(node):
        return
    _explain_shape(node, where)


def _within_shape_limits(node: Any) -> bool:
    """Whether a tree is within both limits; a quick walk that does not look at scalars one by one.

    It gives up (False) as soon as a limit is passed, so an alias bomb costs no more than the limits.
    """
    if not isinstance(node, dict | list):
        return True
    count = 1
    stack = [(node, 1)]  # containers with the depth of their children
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current
        count += len(children)
        if count > MAX_NODES or (depth > MAX_DEPTH and len(children)):
            return False
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return True


def _explain_shape(node: Any, where: str) -> None:
    """Raise `InvalidSpec` for the first limit a tree passes, visiting nodes in a fixed order."""
    stack = [(node, 0)]
    count = 0
    while stack:
        current, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise InvalidSpec(f"{where} is nested more than {MAX_DEPTH} levels deep.")
        if count > MAX_NODES:
            raise InvalidSpec(f"{where} expands to more than {MAX_NODES} YAML nodes (aliases included).")
        if isinstance(current, dict):
            stack.extend((value, depth + 1) for value in current.values())
        elif isinstance(current, list):
            stack.extend((value, depth + 1) for value in current)


def _ruamel_load(text: str, *, where: str, all_documents: bool) -> Any:
    """ruamel.yaml round-trip parse with its errors (and warnings, such as a reused anchor) handled."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuamelYAMLWarning)
            warnings.simplefilter("ignore", RuamelYAMLFutureWarning)
            if all_documents:
                return [node for node in _ruamel().load_all(text) if node is not None]
            return _ruamel().load(text)
    except RuamelYAMLError as exc:
        raise InvalidSpec(f"{where} is not valid YAML: {_first_line(exc)}") from exc
    except (ValueError, TypeError, AttributeError, RecursionError, KeyError, IndexError) as exc:
        # ruamel.yaml raises plain Python errors on some malformed or hostile inputs.
        raise InvalidSpec(f"{where} is not valid YAML ({type(exc).__name__}).") from exc


def _slow_parse(text: str, path: str) -> list[Document]:
    chunks = _split_documents(text)
    nodes = _ruamel_load(text, where=f"File {path!r}", all_documents=True)
    for node in nodes:
        _check_shape(node, f"File {path!r}")
    if chunks is not None and len(chunks) == len(nodes):
        indents = [detect_seq_indent(chunk) for chunk in chunks]
    else:
        indents = [detect_seq_indent(text)] * len(nodes)
    for node in nodes:
        normalize_comments(node)
    return [Document(node, indent) for node, indent in zip(nodes, indents, strict=True)]


def normalize_comments(node: Any, offset: int = 0) -> None:
    """Make comments print like kyaml prints them, for a tree read at indentation `offset`.

    End-of-line comments get a single space before the `#`; full-line comments move `offset` columns left
    (function output items sit two or more columns deeper than they will in a file).
    """
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, CommentedBase):
            comment_attrs = getattr(current, "ca", None)
            if comment_attrs is not None:
                if comment_attrs.comment:
                    _normalize_entry(comment_attrs.comment, offset, seen)
                for entry in comment_attrs.items.values():
                    _normalize_entry(entry, offset, seen)
                if comment_attrs.end:
                    _normalize_entry([None, comment_attrs.end], offset, seen)
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def _normalize_entry(entry: Any, offset: int, seen: set[int]) -> None:
    for part in entry:
        if isinstance(part, CommentToken):
            _normalize_token(part, offset, seen, eol=True)
        elif isinstance(part, list):
            for token in part:
                if isinstance(token, CommentToken):
                    _normalize_token(token, offset, seen, eol=False)


def _normalize_token(token: CommentToken, offset: int, seen: set[int], *, eol: bool) -> None:
    if id(token) in seen:
        return
    seen.add(id(token))
    lines = token.value.split("\n")
    if offset:
        lines = [lines[0], *(_dedent(line, offset) for line in lines[1:])]
        token.value = "\n".join(lines)
    column = getattr(token.start_mark, "column", 0) or 0
    if eol and lines[0].startswith("#"):
        token.start_mark = cast(Any, CommentMark(0))
    elif not eol and offset:
        token.start_mark = cast(Any, CommentMark(max(0, column - offset)))


def _dedent(line: str, offset: int) -> str:
    stripped = line.lstrip(" ")
    removable = min(offset, len(line) - len(stripped))
    return line[removable:]


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def parse_documents(text: str, *, path: str, cache: DocumentCache | None = None) -> list[Document]:
    """Parse a YAML stream into its non-empty documents, keeping comments and styles.

    Raises `InvalidSpec` naming `path` when the text is not valid YAML. With a `cache`, documents whose text
    was parsed before are taken from it instead of parsed again, and the trees of fast-parsed documents are
    the cache's shared, read-only trees (see `DocumentCache`).
    """
    documents = _fast_parse(text, cache)
    if documents is not None:
        return documents
    return _slow_parse(text, path)


def emit_document(node: Any, *, seq_indent: SeqIndent = COMPACT) -> str:
    """Write one document (no leading `---`), ending with a newline."""
    try:
        return _FastEmitter(seq_indent).document(node)
    except _Unsupported:
        pass
    buffer = io.StringIO()
    _ruamel(seq_indent).dump(node, buffer)
    return buffer.getvalue()


def emit_documents(documents: list[Document], cache: DocumentCache | None = None) -> str:
    """Write documents as one stream separated by `---` lines, as kyaml writes a file.

    Documents whose trees came unchanged from `cache` are written as the text they were parsed from (which is
    what the emitter would write).
    """
    if cache is None:
        return "---\n".join(emit_document(doc.node, seq_indent=doc.seq_indent) for doc in documents)
    return "---\n".join(
        cache.text_of(doc) or emit_document(doc.node, seq_indent=doc.seq_indent) for doc in documents
    )


def emit_file(path: str, docs: list[Document], cache: DocumentCache | None = None) -> str:
    """The text of a package file holding `docs`, as kyaml writes it.

    A `.json` file with a single document is written as indented JSON with sorted keys (Go's encoder);
    everything else as YAML documents separated by `---`.
    """
    if path.endswith(".json") and len(docs) == 1:
        return emit_json(docs[0].node)
    return emit_documents(docs, cache)


def json_line(node: Any) -> str | None:
    """The tree as one line of JSON (valid YAML), or None when JSON would lose something.

    Used for function input: JSON is written at C speed, and a function reads it like any YAML. Trees with
    comments (other than kpt's `metadata: # kpt-merge` comment, which no function uses and which stays in our
    own tree), verbatim spellings such as `0644`, or floats keep the YAML form.
    """
    if not json_safe(node):
        return None
    return json_text(node)


def json_text(node: Any) -> str:
    """A tree `json_safe` accepts as one line of JSON (`json_line` without the check)."""
    data: bytes | None = None
    if _orjson is not None:
        try:
            data = _orjson.dumps(node, default=_orjson_default, option=_orjson.OPT_PASSTHROUGH_SUBCLASS)
        except TypeError:  # keys that are styled strings, integers beyond 64 bits, lone surrogates
            data = None
        if data is not None and data.isascii() and b"\x7f" not in data:
            return data.decode("ascii")  # the common case: printable ASCII, nothing to escape
    text = (
        data.decode("utf-8")
        if data is not None
        else json.dumps(node, ensure_ascii=False, check_circular=False)
    )
    return _YAML_UNSAFE.sub(_unicode_escape, text)


# Characters JSON leaves raw that a YAML reader must not see raw in a double-quoted scalar: DEL and the C1
# controls are not printable, NEL, U+2028 and U+2029 are line breaks to YAML 1.1 readers (folded into spaces),
# BOM and non-characters are refused by some; lone surrogates cannot be written as UTF-8. Escaping them as
# `\uXXXX` is the same string in JSON and YAML. Other characters stay raw UTF-8: writing astral characters
# as JSON's surrogate-pair escapes (`ensure_ascii`) breaks go-yaml ("invalid Unicode character escape code").
_YAML_UNSAFE: Final = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _unicode_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _orjson_default(value: Any) -> Any:
    """What orjson writes for the subclasses it is told to pass through: ruamel.yaml's styled scalars, maps.

    Maps go through their own `items()` (a `CommentedMap`'s order is its own, not its storage's).
    """
    if isinstance(value, str):
        return str(value)  # `json_safe` let no verbatim spelling (`RawPlain`) through
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, dict):
        return dict(value.items())
    if isinstance(value, list):
        return list(value)
    raise TypeError(f"not written as JSON: {type(value).__name__}")


# Scalars JSON writes as they read: strings whatever their quoting (not verbatim spellings), integers,
# booleans and null.
_JSON_SCALARS: Final = frozenset(
    {str, int, bool, type(None), DoubleQuotedScalarString, SingleQuotedScalarString, LiteralScalarString}
)


def json_safe(node: Any) -> bool:
    """Whether `json_line` writes this tree (or a value inside a tree) as JSON.

    It does unless the tree holds comments other than kpt's merge comment, verbatim spellings, floats or keys
    other than strings. `_json_checked` for the common case of plain containers; other nodes are left to it.
    """
    kind = type(node)
    if kind is list:
        return all(type(value) in _JSON_SCALARS or json_safe(value) for value in node)
    if kind is CommentedMap and not _only_merge_comment(node):
        return False
    if kind is dict or kind is CommentedMap:
        for key, value in node.items():
            if type(key) is not str:
                return _json_checked(node)
            if type(value) not in _JSON_SCALARS and not json_safe(value):
                return False
        return True
    return _json_checked(node)


def _json_checked(node: Any) -> bool:
    """Whether JSON would keep everything of a tree: no comments, verbatim spellings, floats, odd keys."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if isinstance(current, CommentedBase) and not _only_merge_comment(current):
                return False
            for key, value in current.items():
                if type(key) is not str and not isinstance(key, ScalarString):
                    return False
                stack.append(value)
        elif isinstance(current, list):
            if isinstance(current, CommentedBase) and _has_any_comment(current):
                return False
            stack.extend(current)
        elif isinstance(current, RawPlain | float) or not (current is None or isinstance(current, str | int)):
            return False
    return True


def json_ready_root(node: CommentedMap) -> bool:
    """Whether `json_line` accepts a map's own comments (only kpt's merge comment); its contents aside."""
    return _only_merge_comment(node)


def _has_any_comment(node: CommentedBase) -> bool:
    comment_attrs = getattr(node, "ca", None)
    return comment_attrs is not None and bool(
        comment_attrs.comment or comment_attrs.items or comment_attrs.end
    )


def _only_merge_comment(node: CommentedBase) -> bool:
    comment_attrs = getattr(node, "ca", None)
    if comment_attrs is None:
        return True
    if comment_attrs.end or (comment_attrs.comment and any(comment_attrs.comment)):
        return False
    for key, entry in comment_attrs.items.items():
        if key != "metadata" or not _is_eol_entry(entry) or "kpt-merge:" not in entry[2].value:
            return False
    return True


def emit_json(node: Any) -> str:
    """A tree as Go's `encoding/json` writes it with two-space indentation (keys sorted, HTML escaped)."""
    text = json.dumps(_json_value(node), indent=2, sort_keys=True, ensure_ascii=False, separators=(",", ": "))
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text + "\n"


def _json_value(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(plain_value(k)): _json_value(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_value(v) for v in node]
    if isinstance(node, RawPlain):
        return raw_value(str(node))
    if isinstance(node, ScalarString):
        return str(node)
    if isinstance(node, float) and (math.isnan(node) or math.isinf(node)):
        return _float_text(node)
    return node


def raw_value(text: str) -> Any:
    """The value go-yaml gives a verbatim plain scalar when decoding into an untyped Go value."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return text.lower() == "true"
    plain = text.replace("_", "")
    if _GO_INT.match(plain):
        sign = -1 if plain.startswith("-") else 1
        digits = plain.lstrip("+-")
        if len(digits) > 1 and digits[0] == "0" and digits[1] in "0123456789":
            return sign * int(digits, 8)
        return sign * int(digits, 0)
    if _GO_FLOAT.match(plain):
        return float(plain)
    return text


_COMMENT = re.compile(r"(?:^|[ \t])#(.*)$", re.MULTILINE)


def comment_texts(text: str) -> frozenset[str]:
    """The texts of everything that looks like a comment in YAML text (strings with ' #' count too)."""
    if "#" not in text:
        return frozenset()
    return frozenset(match.strip() for match in _COMMENT.findall(text))


def load_function_output(text: str, *, what: str, sent_comments: frozenset[str] = frozenset()) -> Any:
    """Parse a function's output ResourceList; `what` names the function in error messages.

    Comments only matter when the function wrote new ones: when every comment in the output was already in
    the input (`sent_comments`), the output is read with a fast parser that drops comments, and the caller
    keeps the comments of its own trees. Otherwise the round-trip parser reads the output with its comments.
    """
    where = f"The output of {what}"
    node: Any = _NOT_LOADED
    if text.startswith("{"):
        # A function that answers a JSON ResourceList (the fnrunner's builtins do when given one) is read at
        # JSON speed; JSON has no comments. Flow YAML that is not JSON falls through to the YAML readers.
        node = _json_load_output(text)
        if node is not _NOT_LOADED:
            if not _json_bounds_shape(text):
                _check_shape(node, where)
            return node
    if "#" not in text or comment_texts(text) <= sent_comments:
        node = _fast_load_output(text)
    if node is _NOT_LOADED:
        node = _ruamel_load(text, where=where, all_documents=False)
    if not _text_bounds_shape(text):
        _check_shape(node, where)
    return node


def _text_bounds_shape(text: str) -> bool:
    """Whether YAML text is too small and too flat to hold a tree beyond the limits (so no walk is needed).

    Without aliases (`*`), every node takes at least one character of the text or is the empty partner of
    a key or of an indicator, so a tree has at most twice as many nodes as the text has characters. A block
    collection nests inside another with at least one more column of leading spaces and `-`, `?`, `:`
    indicators for every two levels; a flow collection opens with a `[` or `{` of its own.
    """
    if "*" in text or 2 * len(text) + 1 > MAX_NODES:
        return False
    # depth <= 2 * prefix + 3 + brackets must stay within MAX_DEPTH: no line may have a longer prefix
    longest = (MAX_DEPTH - 3 - text.count("[") - text.count("{")) // 2
    if longest < 0:
        return False
    first_line, other_lines = _too_long_prefix(longest + 1)
    return first_line.match(text) is None and other_lines.search(text) is None


# Nineteen digits in a row may be an integer beyond 64 bits, which orjson reads as a float (YAML as an int);
# found as a run of zeros once every digit is a zero (a substring search, far faster than a pattern).
_DIGITS_AS_ZEROS: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS: Final = b"0" * 19


def _json_load_output(text: str) -> Any:
    if _orjson is None or _LONG_DIGITS in text.encode("utf-8").translate(_DIGITS_AS_ZEROS):
        return _NOT_LOADED
    try:
        return _orjson.loads(text)
    except _orjson.JSONDecodeError:  # not JSON (flow YAML, NaN): read as YAML
        return _NOT_LOADED


# JSON escapes that can hide a quote; removed before quotes are taken as the bounds of strings.
_JSON_ESCAPED_BACKSLASH: Final = b"\\\\"
_JSON_ESCAPED_QUOTE: Final = b'\\"'
_ALL_BUT_BRACKETS_AND_QUOTES: Final = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_JSON_STRING_OF_BRACKETS: Final = re.compile(rb'"[^"]*"')


def _json_bounds_shape(text: str) -> bool:
    """Whether a JSON text (one `orjson` accepted) is too small and too shallow to pass the shape limits.

    Every node of JSON takes at least one character. The depth is that of the brackets outside strings:
    escapes are dropped, then everything but brackets and quotes, then the strings (only brackets can be left
    in them; a string without any is a `""` pair). Each pass then takes out the empty `{}` and then the empty
    `[]` pairs: at most two levels, so a nesting that is gone after `MAX_DEPTH // 2` passes is within the
    limit (a deeper-looking one is walked). Far cheaper than walking the tree (1 against 10 ms for 400 kB).
    """
    if len(text) > MAX_NODES:
        return False
    data = text.encode("utf-8")
    if b"\\" in data:
        data = data.replace(_JSON_ESCAPED_BACKSLASH, b"").replace(_JSON_ESCAPED_QUOTE, b"")
    kept = data.translate(None, _ALL_BUT_BRACKETS_AND_QUOTES)
    # Taken left to right, `""` pairs are whole strings as long as no quote is left over; a string with a
    # bracket in it leaves its quotes, and then a regular expression takes the strings out.
    structure = kept.replace(b'""', b"")
    if b'"' in structure:
        structure = _JSON_STRING_OF_BRACKETS.sub(b"", kept)
    for _ in range(MAX_DEPTH // 2):
        if not structure:
            return True
        structure = structure.replace(b"{}", b"").replace(b"[]", b"")
    return not structure


def _deeper_than(text: str, columns: int) -> bool:
    """Whether a line of `text` starts with more than `columns` spaces and `-` indicators."""
    first_line, other_lines = _too_long_indent(columns + 1)
    return first_line.match(text) is not None or other_lines.search(text) is not None


@functools.lru_cache(maxsize=8)
def _too_long_indent(length: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(rf"[ -]{{{length}}}"), re.compile(rf"\n[ -]{{{length}}}")


@functools.lru_cache(maxsize=64)
def _too_long_prefix(length: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """`length` indentation and indicator characters at the start of the text, and after a newline.

    Not one multi-line `^` pattern: one that starts with a literal newline is searched many times faster.
    """
    return re.compile(rf"[ ?:-]{{{length}}}"), re.compile(rf"\n[ ?:-]{{{length}}}")


def _fast_load_output(text: str) -> Any:
    if _yaml_rs is not None:
        try:
            return _yaml_rs.loads(text, parse_datetime=False)
        except (_yaml_rs.YAMLDecodeError, ValueError, TypeError, RecursionError, OverflowError):
            return _NOT_LOADED
    return _try_fast_load(text)


def _try_fast_load(text: str, *, keep_styles: bool = False) -> Any:
    try:
        return _fast_load(text, keep_styles=keep_styles)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError, KeyError, IndexError):
        return _NOT_LOADED


def walk_strings(node: Any) -> Iterator[str]:
    """Every string scalar in a tree (keys and values); used for cheap content checks."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                if isinstance(key, str):
                    yield key
                stack.append(value)
        elif isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, str):
            yield current


def commented_map(items: Iterable[tuple[Any, Any]]) -> CommentedMap:
    """A `CommentedMap` of `items` in their order, as `CommentedMap(dict(items))` builds it.

    Built through `OrderedDict`'s own item assignment: ruamel.yaml's `__setitem__`, which its constructor
    calls for every key, is Python code that first looks the key up (half of the time of converting a
    resource's root map, which every cloned resource needs for its `# kpt-merge` comment).
    """
    node = CommentedMap()
    assign, own = OrderedDict.__setitem__, node._ok
    for key, value in items:
        assign(node, key, value)
        own.add(key)
    return node


def new_map() -> CommentedMap:
    """An empty mapping node that can later carry comments."""
    return CommentedMap()


def new_seq() -> CommentedSeq:
    """An empty sequence node that can later carry comments."""
    return CommentedSeq()


def quoted(text: str) -> str:
    """A string that is always written double-quoted (`"true"`), as kpt writes the annotations it adds."""
    return cast(str, DoubleQuotedScalarString(text))


def scalar_signature(value: Any) -> tuple[str, str]:
    """What a scalar looks like when written (type and text), for comparing spellings, not just values."""
    try:
        return ("text", _scalar_text(value))
    except _Unsupported:
        return (type(value).__name__, str(value))


def lookup(mapping: Any, key: Any) -> Any:
    """`mapping.get(key)`, reading a `CommentedMap` without merged (`<<`) keys as the dict it is."""
    kind = type(mapping)
    if kind is dict or (kind is CommentedMap and not getattr(mapping, merge_attrib, None)):
        return dict.get(mapping, key)
    return mapping.get(key)


def plain_value(value: Any) -> Any:
    """The plain Python value of a scalar, for comparisons: styles and verbatim spellings removed."""
    if isinstance(value, ScalarString | RawPlain):
        return str(value)
    return value
