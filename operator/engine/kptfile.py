"""The Kptfile (`kpt.dev/v1`, kind `Kptfile`): reading it strictly and editing it without losing formatting.

`Kptfile.parse` validates the fields the engine relies on and raises `InvalidSpec` naming the file and the
field; the typed views (`pipeline`, `readiness_gates`, `conditions`, ...) never fail after that. Edits change
the parsed YAML tree in place, so comments, key order and styles survive; new top-level sections are placed
where kpt writes them (apiVersion, kind, metadata, upstream, upstreamLock, info, pipeline, inventory, status).

Used by the tasks (init, clone, upgrade), by render (pipelines) and by `metadata` (labels, annotations,
readiness gates, conditions). No I/O.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from porch_operator.engine import documents
from porch_operator.errors import InvalidSpec

API_VERSION: Final = "kpt.dev/v1"
KIND: Final = "Kptfile"
LOCAL_CONFIG_ANNOTATION: Final = "config.kubernetes.io/local-config"
SAVE_ON_RENDER_FAILURE_ANNOTATION: Final = "kpt.dev/save-on-render-failure"

TOP_LEVEL_ORDER: Final = (
    "apiVersion",
    "kind",
    "metadata",
    "upstream",
    "upstreamLock",
    "info",
    "pipeline",
    "inventory",
    "status",
)
METADATA_ORDER: Final = ("name", "namespace", "labels", "annotations")
INFO_ORDER: Final = (
    "site",
    "emails",
    "license",
    "licenseFile",
    "description",
    "keywords",
    "man",
    "readinessGates",
)
_UPDATE_STRATEGIES: Final = frozenset(
    {"resource-merge", "fast-forward", "force-delete-replace", "copy-merge"}
)


@dataclass(frozen=True)
class Selector:
    """One entry of a function's `selectors` or `exclude` list; set fields are ANDed."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when the selector sets no field (kpt rejects such selectors)."""
        return not (
            self.api_version or self.kind or self.name or self.namespace or self.labels or self.annotations
        )


@dataclass(frozen=True)
class Function:
    """One pipeline entry: which function to run and with what configuration."""

    image: str | None = None
    exec: str | None = None
    config_path: str | None = None
    config_map: Mapping[str, str] | None = None
    name: str | None = None
    tag: str | None = None
    selectors: tuple[Selector, ...] = ()
    exclude: tuple[Selector, ...] = ()

    def exec_argv(self) -> list[str]:
        """The exec command split as kpt splits it (shell-like words)."""
        assert self.exec is not None
        return shlex.split(self.exec)

    @property
    def display_name(self) -> str:
        """The image, or the exec command, as kpt names the function in results."""
        return self.image if self.image is not None else (self.exec or "")


@dataclass(frozen=True)
class Pipeline:
    """The Kptfile pipeline: mutators run in order, then validators."""

    mutators: tuple[Function, ...] = ()
    validators: tuple[Function, ...] = ()

    def is_empty(self) -> bool:
        """True when there is nothing to run."""
        return not self.mutators and not self.validators


@dataclass(frozen=True)
class Condition:
    """A Kptfile `status.conditions` entry (also mirrored as a PackageRevision package condition)."""

    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class GitLock:
    """Where a package came from: repository URL, directory in it, ref and (for locks) the commit."""

    repo: str
    directory: str
    ref: str
    commit: str = ""


class Kptfile:
    """A parsed, validated Kptfile whose YAML tree can be edited in place and written back."""

    def __init__(self, document: documents.Document, *, path: str = "Kptfile") -> None:
        self._doc = document
        self.path = path
        _validate(self.node, path)

    @classmethod
    def parse(cls, text: str, *, path: str = "Kptfile") -> Kptfile:
        """Parse and validate Kptfile text; `path` names the file in error messages."""
        docs = documents.parse_documents(text, path=path)
        if len(docs) != 1:
            raise InvalidSpec(f"File {path!r} must contain exactly one YAML document, found {len(docs)}.")
        return cls(docs[0], path=path)

    @classmethod
    def new(cls, name: str) -> Kptfile:
        """A minimal Kptfile for package `name`, marked as local configuration like `kpt pkg init` does."""
        node = documents.new_map()
        node["apiVersion"] = API_VERSION
        node["kind"] = KIND
        metadata = documents.new_map()
        metadata["name"] = name
        annotations = documents.new_map()
        annotations[LOCAL_CONFIG_ANNOTATION] = documents.quoted("true")
        metadata["annotations"] = annotations
        node["metadata"] = metadata
        return cls(documents.Document(node, documents.COMPACT))

    @property
    def node(self) -> Any:
        """The YAML tree (a dict); edit through the methods below to keep the key order kpt uses."""
        return self._doc.node

    def text(self) -> str:
        """The Kptfile as YAML text."""
        return documents.emit_document(self._doc.node, seq_indent=self._doc.seq_indent)

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """`metadata.name` ('' when missing)."""
        return str(self._metadata().get("name") or "")

    @property
    def labels(self) -> dict[str, str]:
        """`metadata.labels` as plain strings."""
        return _string_map(self._metadata().get("labels"))

    @property
    def annotations(self) -> dict[str, str]:
        """`metadata.annotations` as plain strings."""
        return _string_map(self._metadata().get("annotations"))

    @property
    def info(self) -> Mapping[str, Any]:
        """The `info` section (empty when missing)."""
        info = self.node.get("info")
        return info if isinstance(info, dict) else {}

    @property
    def readiness_gates(self) -> list[str]:
        """Condition types listed in `info.readinessGates`, in order."""
        gates = self.info.get("readinessGates") or []
        return [str(gate["conditionType"]) for gate in gates]

    @property
    def conditions(self) -> list[Condition]:
        """`status.conditions`, in order."""
        status = self.node.get("status")
        if not isinstance(status, dict):
            return []
        return [_condition(entry) for entry in status.get("conditions") or []]

    @property
    def pipeline(self) -> Pipeline:
        """The validated pipeline (empty when the Kptfile has none)."""
        pipeline = self.node.get("pipeline")
        if not isinstance(pipeline, dict):
            return Pipeline()
        return Pipeline(
            mutators=tuple(_function(f) for f in pipeline.get("mutators") or []),
            validators=tuple(_function(f) for f in pipeline.get("validators") or []),
        )

    @property
    def upstream(self) -> GitLock | None:
        """`upstream.git` (without commit), or None."""
        return _git_section(self.node.get("upstream"))

    @property
    def upstream_lock(self) -> GitLock | None:
        """`upstreamLock.git`, or None."""
        return _git_section(self.node.get("upstreamLock"))

    @property
    def update_strategy(self) -> str | None:
        """`upstream.updateStrategy`, or None."""
        upstream = self.node.get("upstream")
        if isinstance(upstream, dict) and upstream.get("updateStrategy"):
            return str(upstream["updateStrategy"])
        return None

    @property
    def save_on_render_failure(self) -> bool:
        """Whether the Kptfile asks for partially rendered output to be kept when render fails."""
        return self.annotations.get(SAVE_ON_RENDER_FAILURE_ANNOTATION, "").lower() == "true"

    # -- editing ------------------------------------------------------------------------------------------

    def set_name(self, name: str) -> None:
        """Set `metadata.name`."""
        set_key(self._metadata(create=True), "name", name, METADATA_ORDER)

    def set_labels(self, labels: Mapping[str, str]) -> None:
        """Replace `metadata.labels` (removed when empty)."""
        self._set_string_map("labels", labels)

    def set_annotations(self, annotations: Mapping[str, str]) -> None:
        """Replace `metadata.annotations` (removed when empty)."""
        self._set_string_map("annotations", annotations)

    def _set_string_map(self, key: str, values: Mapping[str, str]) -> None:
        metadata = self._metadata(create=True)
        current = metadata.get(key)
        if not values:
            metadata.pop(key, None)
            return
        if not isinstance(current, dict):
            current = documents.new_map()
            set_key(metadata, key, current, METADATA_ORDER)
        for existing in [k for k in current if k not in values]:
            del current[existing]
        for k, v in values.items():
            if documents.plain_value(current.get(k)) != v:
                current[k] = _string_node(v)

    def set_info(
        self,
        *,
        description: str | None = None,
        keywords: Sequence[str] | None = None,
        site: str | None = None,
    ) -> None:
        """Set the given `info` fields (only those that are not None)."""
        info = self._section("info", create=True)
        if site is not None:
            set_key(info, "site", site, INFO_ORDER)
        if description is not None:
            set_key(info, "description", description, INFO_ORDER)
        if keywords is not None:
            seq = documents.new_seq()
            seq.extend(keywords)
            set_key(info, "keywords", seq, INFO_ORDER)

    def set_readiness_gates(self, gates: Sequence[str]) -> None:
        """Make `info.readinessGates` list exactly `gates`: kept ones in place, new ones appended."""
        wanted = list(dict.fromkeys(gates))
        info = self._section("info", create=bool(wanted))
        if info is None:
            return
        current = info.get("readinessGates")
        if not isinstance(current, list):
            current = documents.new_seq()
        kept = [entry for entry in current if str(entry.get("conditionType")) in wanted]
        present = {str(entry.get("conditionType")) for entry in kept}
        for gate in wanted:
            if gate not in present:
                entry = documents.new_map()
                entry["conditionType"] = gate
                kept.append(entry)
        if not kept:
            info.pop("readinessGates", None)
            self._drop_if_empty("info")
            return
        current[:] = kept
        set_key(info, "readinessGates", current, INFO_ORDER)

    def set_conditions(self, conditions: Sequence[Condition]) -> None:
        """Make `status.conditions` equal to `conditions` (changed entries updated, others removed/added)."""
        status = self._section("status", create=bool(conditions))
        if status is None:
            return
        current = status.get("conditions")
        if not isinstance(current, list):
            current = documents.new_seq()
        by_type = {str(entry.get("type")): entry for entry in current if isinstance(entry, dict)}
        result = []
        for condition in conditions:
            entry = by_type.get(condition.type)
            if entry is None:
                entry = documents.new_map()
            _fill_condition(entry, condition)
            result.append(entry)
        if not result:
            status.pop("conditions", None)
            self._drop_if_empty("status")
            return
        current[:] = result
        set_key(status, "conditions", current, ("conditions",))

    def set_upstream(self, lock: GitLock, *, update_strategy: str = "resource-merge") -> None:
        """Set `upstream` (repo, directory, ref, strategy) and `upstreamLock` (with commit) to `lock`."""
        upstream = self.node.get("upstream")
        if not isinstance(upstream, dict):
            upstream = documents.new_map()
        _replace_contents(
            upstream,
            {
                "type": "git",
                "git": _git_map(lock, with_commit=False),
                "updateStrategy": upstream.get("updateStrategy") or update_strategy,
            },
        )
        set_key(self.node, "upstream", upstream, TOP_LEVEL_ORDER)
        upstream_lock = self.node.get("upstreamLock")
        if not isinstance(upstream_lock, dict):
            upstream_lock = documents.new_map()
        _replace_contents(upstream_lock, {"type": "git", "git": _git_map(lock, with_commit=True)})
        set_key(self.node, "upstreamLock", upstream_lock, TOP_LEVEL_ORDER)

    def clear_render_status(self) -> None:
        """Remove `status.renderStatus` and the `Rendered` condition written by newer kpt versions."""
        status = self.node.get("status")
        if not isinstance(status, dict):
            return
        status.pop("renderStatus", None)
        conditions = status.get("conditions")
        if isinstance(conditions, list):
            conditions[:] = [
                c for c in conditions if not (isinstance(c, dict) and c.get("type") == "Rendered")
            ]
            if not conditions:
                status.pop("conditions", None)
        self._drop_if_empty("status")

    # -- helpers ------------------------------------------------------------------------------------------

    def _metadata(self, *, create: bool = False) -> Any:
        metadata = self.node.get("metadata")
        if not isinstance(metadata, dict):
            if not create:
                return {}
            metadata = documents.new_map()
            set_key(self.node, "metadata", metadata, TOP_LEVEL_ORDER)
        return metadata

    def _section(self, key: str, *, create: bool) -> Any:
        section = self.node.get(key)
        if isinstance(section, dict):
            return section
        if not create:
            return None
        section = documents.new_map()
        set_key(self.node, key, section, TOP_LEVEL_ORDER)
        return section

    def _drop_if_empty(self, key: str) -> None:
        section = self.node.get(key)
        if isinstance(section, dict) and not section:
            del self.node[key]


def set_key(mapping: Any, key: str, value: Any, order: Sequence[str]) -> None:
    """Set `mapping[key]`; a new key goes after the last existing key that precedes it in `order`."""
    if key in mapping:
        mapping[key] = value
        return
    rank = {k: i for i, k in enumerate(order)}
    position = len(mapping)
    if key in rank:
        position = 0
        for index, existing in enumerate(mapping):
            if existing in rank and rank[existing] < rank[key]:
                position = index + 1
            elif existing not in rank:
                # Unknown keys keep their place relative to what precedes them.
                continue
    insert_key(mapping, position, key, value)


def insert_key(mapping: Any, position: int, key: str, value: Any) -> None:
    """Insert a new key at `position` in a dict or CommentedMap, keeping the others in order."""
    if hasattr(mapping, "insert"):
        mapping.insert(position, key, value)
        return
    items = list(mapping.items())
    items.insert(position, (key, value))
    mapping.clear()
    mapping.update(items)


def _replace_contents(mapping: Any, values: Mapping[str, Any]) -> None:
    for existing in [k for k in mapping if k not in values]:
        del mapping[existing]
    for key, value in values.items():
        mapping[key] = value


def _git_map(lock: GitLock, *, with_commit: bool) -> Any:
    git = documents.new_map()
    git["repo"] = lock.repo
    git["directory"] = lock.directory
    git["ref"] = lock.ref
    if with_commit:
        git["commit"] = lock.commit
    return git


def _string_node(value: str) -> Any:
    return value


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): "" if v is None else str(documents.plain_value(v)) for k, v in value.items()}


def _fill_condition(entry: Any, condition: Condition) -> None:
    wanted: dict[str, str] = {"type": condition.type, "status": condition.status}
    if condition.reason:
        wanted["reason"] = condition.reason
    if condition.message:
        wanted["message"] = condition.message
    for key in [k for k in entry if k not in wanted]:
        del entry[key]
    for key, value in wanted.items():
        if documents.plain_value(entry.get(key)) != value:
            entry[key] = value


def _condition(entry: Any) -> Condition:
    return Condition(
        type=str(entry.get("type") or ""),
        status=str(documents.plain_value(entry.get("status")) or ""),
        reason=str(entry.get("reason") or ""),
        message=str(entry.get("message") or ""),
    )


def _git_section(section: Any) -> GitLock | None:
    if not isinstance(section, dict) or not isinstance(section.get("git"), dict):
        return None
    git = section["git"]
    return GitLock(
        repo=str(git.get("repo") or ""),
        directory=str(git.get("directory") or ""),
        ref=str(git.get("ref") or ""),
        commit=str(git.get("commit") or ""),
    )


def _selector(value: Any) -> Selector:
    return Selector(
        api_version=_opt_str(value.get("apiVersion")),
        kind=_opt_str(value.get("kind")),
        name=_opt_str(value.get("name")),
        namespace=_opt_str(value.get("namespace")),
        labels=_string_map(value.get("labels")),
        annotations=_string_map(value.get("annotations")),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(documents.plain_value(value))


def _function(value: Any) -> Function:
    config_map = value.get("configMap")
    return Function(
        image=_opt_str(value.get("image")),
        exec=_opt_str(value.get("exec")),
        config_path=_opt_str(value.get("configPath")),
        config_map=_string_map(config_map) if config_map is not None else None,
        name=_opt_str(value.get("name")),
        tag=_opt_str(value.get("tag")),
        selectors=tuple(_selector(s) for s in value.get("selectors") or []),
        exclude=tuple(_selector(s) for s in value.get("exclude") or []),
    )


# -- validation ---------------------------------------------------------------------------------------------


def _fail(path: str, message: str) -> InvalidSpec:
    return InvalidSpec(f"Invalid Kptfile {path!r}: {message}")


def _expect_map(value: Any, path: str, where: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, dict):
        raise _fail(path, f"{where} must be a mapping.")


def _expect_list(value: Any, path: str, where: str) -> None:
    if value is not None and not isinstance(value, list):
        raise _fail(path, f"{where} must be a list.")


def _expect_scalar(value: Any, path: str, where: str) -> None:
    if value is not None and isinstance(value, dict | list):
        raise _fail(path, f"{where} must be a scalar value.")


def _expect_string_map(value: Any, path: str, where: str) -> None:
    _expect_map(value, path, where)
    for key, item in (value or {}).items():
        if not isinstance(key, str):
            raise _fail(path, f"{where} has a key that is not a string.")
        _expect_scalar(item, path, f"{where}.{key}")


def _validate(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        raise _fail(path, "the document must be a mapping.")
    if node.get("kind") != KIND:
        raise _fail(path, f"kind must be {KIND!r}, found {node.get('kind')!r}.")
    if node.get("apiVersion") != API_VERSION:
        raise _fail(path, f"apiVersion must be {API_VERSION!r}, found {node.get('apiVersion')!r}.")
    metadata = node.get("metadata")
    _expect_map(metadata, path, "metadata")
    if isinstance(metadata, dict):
        _expect_scalar(metadata.get("name"), path, "metadata.name")
        _expect_string_map(metadata.get("labels"), path, "metadata.labels")
        _expect_string_map(metadata.get("annotations"), path, "metadata.annotations")
    _validate_info(node.get("info"), path)
    for section in ("upstream", "upstreamLock"):
        _validate_git_section(node.get(section), path, section)
    _validate_pipeline(node.get("pipeline"), path)
    _validate_status(node.get("status"), path)


def _validate_info(info: Any, path: str) -> None:
    _expect_map(info, path, "info")
    if not isinstance(info, dict):
        return
    for key in ("description", "site", "license"):
        _expect_scalar(info.get(key), path, f"info.{key}")
    _expect_list(info.get("keywords"), path, "info.keywords")
    gates = info.get("readinessGates")
    _expect_list(gates, path, "info.readinessGates")
    for index, gate in enumerate(gates or []):
        where = f"info.readinessGates[{index}]"
        _expect_map(gate, path, where, optional=False)
        if not isinstance(gate.get("conditionType"), str) or not gate.get("conditionType"):
            raise _fail(path, f"{where}.conditionType must be a non-empty string.")


def _validate_git_section(section: Any, path: str, where: str) -> None:
    _expect_map(section, path, where)
    if not isinstance(section, dict):
        return
    git = section.get("git")
    _expect_map(git, path, f"{where}.git")
    for key in ("repo", "directory", "ref", "commit"):
        _expect_scalar((git or {}).get(key), path, f"{where}.git.{key}")
    strategy = section.get("updateStrategy")
    if strategy is not None and strategy not in _UPDATE_STRATEGIES:
        raise _fail(path, f"{where}.updateStrategy {strategy!r} is not one of {sorted(_UPDATE_STRATEGIES)}.")


def _validate_pipeline(pipeline: Any, path: str) -> None:
    _expect_map(pipeline, path, "pipeline")
    if not isinstance(pipeline, dict):
        return
    for stage in ("mutators", "validators"):
        functions = pipeline.get(stage)
        _expect_list(functions, path, f"pipeline.{stage}")
        for index, function in enumerate(functions or []):
            _validate_function(function, path, f"pipeline.{stage}[{index}]")


def _validate_function(function: Any, path: str, where: str) -> None:
    _expect_map(function, path, where, optional=False)
    for key in ("image", "exec", "configPath", "name", "tag"):
        _expect_scalar(function.get(key), path, f"{where}.{key}")
    image, exec_ = function.get("image"), function.get("exec")
    if bool(image) == bool(exec_):
        raise _fail(path, f"{where} must set exactly one of 'image' and 'exec'.")
    if exec_:
        try:
            argv = shlex.split(str(exec_))
        except ValueError as exc:
            raise _fail(path, f"{where}.exec {str(exec_)!r} is not a valid command line: {exc}.") from exc
        if not argv:
            raise _fail(path, f"{where}.exec must name a program.")
    if function.get("configPath") is not None and function.get("configMap") is not None:
        raise _fail(path, f"{where} must not set both 'configPath' and 'configMap'.")
    _expect_string_map(function.get("configMap"), path, f"{where}.configMap")
    config_path = function.get("configPath")
    if config_path is not None:
        _validate_config_path(str(config_path), path, where)
    for key in ("selectors", "exclude"):
        selectors = function.get(key)
        _expect_list(selectors, path, f"{where}.{key}")
        for index, selector in enumerate(selectors or []):
            _validate_selector(selector, path, f"{where}.{key}[{index}]")


def _validate_config_path(config_path: str, path: str, where: str) -> None:
    from porch_operator.engine import resources

    try:
        resources.validate_path(config_path)
    except InvalidSpec as exc:
        raise _fail(path, f"{where}.configPath: {exc}") from exc


def _validate_selector(selector: Any, path: str, where: str) -> None:
    _expect_map(selector, path, where, optional=False)
    for key in ("apiVersion", "kind", "name", "namespace"):
        _expect_scalar(selector.get(key), path, f"{where}.{key}")
    _expect_string_map(selector.get("labels"), path, f"{where}.labels")
    _expect_string_map(selector.get("annotations"), path, f"{where}.annotations")
    if _selector(selector).is_empty():
        raise _fail(path, f"{where} must set at least one field.")


def _validate_status(status: Any, path: str) -> None:
    _expect_map(status, path, "status")
    if not isinstance(status, dict):
        return
    conditions = status.get("conditions")
    _expect_list(conditions, path, "status.conditions")
    for index, condition in enumerate(conditions or []):
        where = f"status.conditions[{index}]"
        _expect_map(condition, path, where, optional=False)
        if not isinstance(condition.get("type"), str) or not condition.get("type"):
            raise _fail(path, f"{where}.type must be a non-empty string.")
        for key in ("status", "reason", "message"):
            _expect_scalar(condition.get(key), path, f"{where}.{key}")
