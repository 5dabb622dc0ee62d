"""Function results in kpt's `FunctionResultList` format (`kpt.dev/v1`), and Porch's RenderStatus shape.

A render appends one `FunctionResult` per function it ran (mutators and validators, in order); the list's
`exit_code` is 1 as soon as one failed. `FunctionResultList.to_dict()` gives exactly what
`kpt fn render --results-dir` writes to results.yaml (parsed), `RenderStatus.to_dict()` the `{result, error}`
object Porch returns as `renderStatus`.

Result items are normalised as kpt does: legacy shapes (items wrapped in `{items: [...]}`,
`resourceRef.metadata`) are lifted, unknown fields dropped and the remaining fields ordered as kpt writes
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from porch_operator.engine import documents

API_VERSION: Final = "kpt.dev/v1"
KIND: Final = "FunctionResultList"


@dataclass(frozen=True)
class FunctionResult:
    """The outcome of one function: which function, its exit code, standard error and structured results."""

    exit_code: int
    image: str | None = None
    exec: str | None = None
    stderr: str = ""
    results: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The item as kpt writes it in a FunctionResultList."""
        out: dict[str, Any] = {}
        if self.image:
            out["image"] = self.image
        if self.exec:
            out["exec"] = self.exec
        if self.stderr:
            out["stderr"] = self.stderr
        out["exitCode"] = self.exit_code
        if self.results:
            out["results"] = [dict(r) for r in self.results]
        return out

    @property
    def error_results(self) -> list[Mapping[str, Any]]:
        """Results with severity error (kpt's default severity is error when unset)."""
        return [r for r in self.results if r.get("severity", "error") == "error"]


@dataclass(frozen=True)
class FunctionResultList:
    """All function results of one render, in the order the functions ran."""

    items: tuple[FunctionResult, ...] = ()
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The list as kpt writes it to results.yaml."""
        out: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "fnresults"},
            "exitCode": self.exit_code,
        }
        if self.items:
            out["items"] = [item.to_dict() for item in self.items]
        return out

    def to_yaml(self) -> str:
        """The list as YAML text (kpt writes results.yaml with wide sequences)."""
        return documents.emit_document(self.to_dict(), seq_indent=documents.WIDE)


@dataclass(frozen=True)
class RenderStatus:
    """Porch's `renderStatus`: the result list and the error message ('' on success)."""

    result: FunctionResultList = field(default_factory=FunctionResultList)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """`{result: <FunctionResultList>, error: <message>}` as Porch serialises it."""
        return {"result": self.result.to_dict(), "error": self.error}

    @property
    def worth_reporting(self) -> bool:
        """Porch fills renderStatus only when there is an error or at least one structured result."""
        return bool(self.error) or any(item.results for item in self.result.items)


_RESOURCE_REF_ORDER: Final = ("apiVersion", "kind", "name", "namespace")
_FIELD_ORDER: Final = ("path", "currentValue", "proposedValue")


def normalise_results(raw: Any) -> tuple[dict[str, Any], ...]:
    """Turn a function's `results` value into kpt's result items (tolerating the legacy shapes)."""
    if isinstance(raw, dict):
        raw = raw.get("items") or []
    if not isinstance(raw, list):
        return ()
    return tuple(_normalise_item(item) for item in raw if isinstance(item, dict))


def _normalise_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.get("message") is not None:
        out["message"] = _text(item["message"])
    if item.get("severity"):
        out["severity"] = _text(item["severity"])
    ref = _resource_ref(item.get("resourceRef"))
    if ref:
        out["resourceRef"] = ref
    field_ = _field(item.get("field"))
    if field_:
        out["field"] = field_
    file_ = _file(item.get("file"))
    if file_:
        out["file"] = file_
    tags = item.get("tags")
    if isinstance(tags, dict) and tags:
        out["tags"] = {_text(k): _text(v) for k, v in tags.items()}
    return out


def _resource_ref(ref: Any) -> dict[str, Any]:
    if not isinstance(ref, dict):
        return {}
    values = {k: ref.get(k) for k in _RESOURCE_REF_ORDER}
    metadata = ref.get("metadata")
    if isinstance(metadata, dict):
        # Legacy kyaml SDK results put name and namespace under metadata.
        values["name"] = values["name"] or metadata.get("name")
        values["namespace"] = values["namespace"] or metadata.get("namespace")
    return {k: _text(v).strip() for k, v in values.items() if v not in (None, "", "''")}


def _field(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    out = {k: _plain(value[k]) for k in _FIELD_ORDER if value.get(k) is not None}
    if "proposedValue" not in out and value.get("suggestedValue") is not None:
        out["proposedValue"] = _plain(value["suggestedValue"])
    return out


def _file(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    if value.get("path"):
        out["path"] = _text(value["path"])
    if value.get("index"):
        out["index"] = int(str(value["index"])) if str(value["index"]).isdigit() else value["index"]
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(documents.plain_value(value))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return documents.plain_value(value)


def summarise(results: Sequence[FunctionResult]) -> str:
    """A one-paragraph error summary naming each failed function and its error results."""
    parts = []
    for result in results:
        if result.exit_code == 0:
            continue
        name = result.image or result.exec or "function"
        messages = [str(r.get("message", "")) for r in result.error_results if r.get("message")]
        detail = "; ".join(messages[:5])
        stderr = result.stderr.strip().splitlines()
        if not detail and stderr:
            detail = stderr[-1][:500]
        parts.append(f"{name} failed with exit code {result.exit_code}" + (f": {detail}" if detail else ""))
    return ". ".join(parts)
