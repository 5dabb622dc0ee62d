"""Read and write KRM ResourceLists (`config.kubernetes.io/v1` and `v1beta1`), keeping comments when present.

Codecs, chosen from the input: JSON in, JSON out (fast; JSON is YAML). YAML is read with yaml-rs and written
with a small block emitter (`plainyaml`, about twenty times faster than libyaml); its comments, if any, are
found by a line scanner (`yamlcomments`) and written back on the objects they belong to. Text either of those
does not handle exactly goes to ruamel's round-trip codec (comments) or PyYAML's C codec (no comments), and
functions that read comments themselves (`# kpt-set:` setters) ask for the round trip. Builtin functions work
on the resulting plain mappings and lists (ruamel's subclasses of them in the round trip). `results_of` reads
the structured results of a function's output for failure reporting and never raises.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.nodes import MappingNode, SequenceNode

from fnrunner.evaluators import plainyaml, yamlcomments
from fnrunner.evaluators.evaluation import InvalidInput

API_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1")
Codec = Literal["json", "yaml", "yaml-with-comments", "round-trip"]

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Constructor(RoundTripConstructor):
    """ruamel.yaml's round-trip constructor, refusing mapping keys that are collections before it builds
    them: its time for nested collection keys grows exponentially with their depth (twenty characters of
    `? ? ? …` keep a worker thread busy for minutes, past any deadline)."""

    # The signature is ruamel.yaml's round-trip one, which itself differs from its base class's.
    def construct_mapping(self, node: Any, maptyp: Any, deep: bool = False) -> Any:  # type: ignore[override]
        for key_node, _ in node.value:
            if isinstance(key_node, (MappingNode, SequenceNode)):
                raise ConstructorError(None, None, "a mapping key is a collection", key_node.start_mark)
        return super().construct_mapping(node, maptyp, deep=deep)


def _round_trip() -> YAML:
    # One instance per call: ruamel's YAML objects are not safe to share between threads.
    rt = YAML()
    rt.Constructor = _Constructor
    rt.preserve_quotes = True
    rt.width = 4096
    return rt


@dataclass
class ResourceList:
    """A parsed ResourceList: `root` holds apiVersion, kind, items, functionConfig and results."""

    root: dict[str, Any]
    codec: Codec
    comments: yamlcomments.Comments | None = None

    @property
    def items(self) -> list[dict[str, Any]]:
        items = self.root.get("items")
        return items if isinstance(items, list) else []

    @property
    def function_config(self) -> dict[str, Any]:
        config = self.root.get("functionConfig")
        return config if isinstance(config, dict) else {}

    @property
    def results(self) -> list[Any]:
        results = self.root.get("results")
        if not isinstance(results, list):
            results = []
            self.root["results"] = results
        return results


def _choose(data: bytes, round_trip: bool) -> Codec:
    stripped = data.lstrip()
    if stripped.startswith(b"{") and not round_trip:
        return "json"
    if round_trip:
        return "round-trip"
    return "yaml-with-comments" if b"#" in data else "yaml"


def _load(data: bytes, codec: Codec) -> tuple[Any, Codec, yamlcomments.Comments | None]:
    if codec == "json":
        return json.loads(data), codec, None
    if codec == "yaml":
        return _load_plain(data), codec, None
    if codec == "yaml-with-comments":
        text = data.decode()
        try:
            root = plainyaml.load(text)
            return root, codec, yamlcomments.find(text, root)
        except plainyaml.Unsuitable:
            pass
    return _round_trip().load(data), "round-trip", None


def _load_plain(data: bytes) -> Any:
    try:
        return plainyaml.load(data.decode())
    except plainyaml.Unsuitable:
        return yaml.load(data, Loader=_SafeLoader)


def parse(data: bytes, *, round_trip: bool = False) -> ResourceList:
    """Parse a ResourceList; `round_trip` forces the comment-keeping codec. Raises `InvalidInput`."""
    try:
        root, codec, comments = _load(data, _choose(data, round_trip))
    except (ValueError, yaml.YAMLError, RuamelError) as exc:
        raise InvalidInput(f"The input is not a valid ResourceList: {exc}") from exc
    if not isinstance(root, dict) or root.get("kind") != "ResourceList":
        raise InvalidInput("The input is not a ResourceList (kind: ResourceList is missing).")
    if root.get("apiVersion") not in API_VERSIONS:
        raise InvalidInput(f"Unsupported ResourceList apiVersion {root.get('apiVersion')!r}.")
    items = root.setdefault("items", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidInput("ResourceList items must be a list of objects.")
    return ResourceList(root=root, codec=codec, comments=comments)


def dump(resource_list: ResourceList) -> bytes:
    """Serialise with the codec the input came in (results dropped when empty)."""
    root = resource_list.root
    if "results" in root and not root["results"]:
        del root["results"]
    if resource_list.codec == "json":
        return json.dumps(root, separators=(",", ":")).encode()
    if resource_list.codec in ("yaml", "yaml-with-comments"):
        try:
            return plainyaml.dump(root, resource_list.comments).encode()
        except plainyaml.Unsuitable:
            pass
        text = yaml.dump(
            root,
            Dumper=_SafeDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=4096,
        )
        return str(text).encode()
    out = io.StringIO()
    _round_trip().dump(root, out)
    return out.getvalue().encode()


def results_of(data: bytes) -> list[dict[str, Any]]:
    """The `results` of a function's output ResourceList as plain JSON-able dicts; [] when unreadable."""
    try:
        root = json.loads(data) if data.lstrip().startswith(b"{") else _load_plain(data)
    except (ValueError, yaml.YAMLError):
        return []
    results = root.get("results") if isinstance(root, dict) else None
    if not isinstance(results, list):
        return []
    return [json.loads(json.dumps(item, default=str)) for item in results if isinstance(item, dict)]
