"""FunctionConfig objects (`config.porch.kpt.dev/v1alpha1`): parsed form, an in-memory store, a file loader.

The store is what the executable and pod evaluators consult; it does not care where configs come from. Two
sources fill it: `load_file` (a YAML file of FunctionConfigs, for local runs and tests) and
`fnrunner.configwatch` (a watch on the Kubernetes API in the runner's pod namespace). Rules kept from Porch
(porch-behaviour §1.10, §5.4): the object name is the lookup key and should equal `spec.image`; a second
object claiming an image already registered under another name is ignored; `prefixes` entries `""` mean the
default prefix; a binary path is absolute or relative to the functions directory.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fnrunner.evaluators import images

log = logging.getLogger(__name__)

GROUP = "config.porch.kpt.dev"
VERSION = "v1alpha1"
PLURAL = "functionconfigs"
KIND = "FunctionConfig"
# Our own extension: the function's entrypoint inside its image (a JSON list or a single path), used by the
# pod evaluator because there is no registry access to read it from the image config (see docs/fnrunner.md).
ENTRYPOINT_ANNOTATION = "fnrunner.porch.kpt.dev/entrypoint"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


class InvalidFunctionConfig(ValueError):
    """A FunctionConfig object does not have the required shape."""


def parse_duration(text: str) -> float:
    """Seconds in a Go duration such as `30m`, `1h30m`, `90s`, `500ms`."""
    value = text.strip()
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        raise InvalidFunctionConfig(f"{text!r} is not a duration such as 30m or 1h30m.")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class PodExecutor:
    tags: tuple[str, ...] = ()
    time_to_live: float | None = None
    max_parallel_executions: int = 0
    preferred_max_queue_length: int = 0
    template_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BinaryExecutor:
    tags: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class FunctionConfig:
    """One FunctionConfig, reduced to what the runner uses."""

    name: str
    image: str
    prefixes: tuple[str, ...] = ("",)
    pod_executor: PodExecutor | None = None
    binary_executor: BinaryExecutor | None = None
    go_executor_tags: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    generation: int = 0

    def claims(self, ref: images.ImageRef, *, default_prefix: str) -> bool:
        """Whether this config is about `ref` (same short name, repository among its prefixes)."""
        if ref.name != self.image:
            return False
        prefixes = [prefix or default_prefix for prefix in self.prefixes or ("",)]
        return ref.with_prefix_matching(prefixes)

    def warm_up_image(self, *, default_prefix: str) -> str | None:
        """The image Porch warms a pod for: first prefix (or the default) + first podExecutor tag."""
        if self.pod_executor is None or not self.pod_executor.tags:
            return None
        prefix = (self.prefixes[0] if self.prefixes and self.prefixes[0] else default_prefix).rstrip("/")
        return f"{prefix}/{self.image}:{self.pod_executor.tags[0]}"


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidFunctionConfig(f"{what} must be a list of strings.")
    return tuple(value)


def _pod_executor(body: dict[str, Any]) -> PodExecutor:
    ttl = body.get("timeToLive")
    return PodExecutor(
        tags=_strings(body.get("tags"), "spec.podExecutor.tags"),
        time_to_live=parse_duration(ttl) if isinstance(ttl, str) and ttl else None,
        max_parallel_executions=int(body.get("maxParallelExecutions") or 0),
        preferred_max_queue_length=int(body.get("preferredMaxQueueLength") or 0),
        template_overrides=dict(body.get("templateOverrides") or {}),
    )


def _entrypoint(annotations: dict[str, Any]) -> tuple[str, ...]:
    raw = annotations.get(ENTRYPOINT_ANNOTATION)
    if not raw:
        return ()
    parsed = yaml.safe_load(raw) if raw.lstrip().startswith("[") else raw
    if isinstance(parsed, str):
        return (parsed,)
    return _strings(parsed, f"annotation {ENTRYPOINT_ANNOTATION}")


def from_object(obj: dict[str, Any]) -> FunctionConfig:
    """Parse a FunctionConfig object (as read from the API or a file); raises `InvalidFunctionConfig`."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    name, image = metadata.get("name"), spec.get("image")
    if not isinstance(name, str) or not name or not isinstance(image, str) or not image:
        raise InvalidFunctionConfig("A FunctionConfig needs metadata.name and spec.image.")
    binary = spec.get("binaryExecutor")
    binary_executor = None
    if binary:
        tags = _strings(binary.get("tags"), "spec.binaryExecutor.tags")
        if not tags or not isinstance(binary.get("path"), str) or not binary["path"]:
            raise InvalidFunctionConfig(f"FunctionConfig {name}: binaryExecutor needs tags and a path.")
        binary_executor = BinaryExecutor(tags=tags, path=binary["path"])
    go = spec.get("goExecutor") or {}
    return FunctionConfig(
        name=name,
        image=image,
        prefixes=_strings(spec.get("prefixes"), "spec.prefixes") or ("",),
        pod_executor=_pod_executor(spec["podExecutor"]) if spec.get("podExecutor") else None,
        binary_executor=binary_executor,
        go_executor_tags=_strings(go.get("tags"), "spec.goExecutor.tags"),
        entrypoint=_entrypoint(metadata.get("annotations") or {}),
        generation=int(metadata.get("generation") or 0),
    )


class FunctionConfigStore:
    """The FunctionConfigs in force, keyed by object name; see the module docstring."""

    def __init__(self, configs: list[FunctionConfig] | None = None) -> None:
        self._by_name: dict[str, FunctionConfig] = {}
        for config in configs or []:
            self.put(config)

    def put(self, config: FunctionConfig) -> bool:
        """Register or replace `config`; False (and ignored) when another name already claims its image."""
        for other in self._by_name.values():
            if other.image == config.image and other.name != config.name:
                log.warning(
                    "FunctionConfig %s is ignored: image %s is already configured by FunctionConfig %s.",
                    config.name,
                    config.image,
                    other.name,
                )
                return False
        self._by_name[config.name] = config
        return True

    def remove(self, name: str) -> None:
        self._by_name.pop(name, None)

    def replace_all(self, configs: list[FunctionConfig]) -> None:
        self._by_name.clear()
        for config in configs:
            self.put(config)

    def all(self) -> list[FunctionConfig]:
        return list(self._by_name.values())

    def for_image(self, ref: images.ImageRef, *, default_prefix: str) -> FunctionConfig | None:
        """The config that claims `ref`, if any."""
        for config in self._by_name.values():
            if config.claims(ref, default_prefix=default_prefix):
                return config
        return None

    def named(self, name: str) -> FunctionConfig | None:
        return self._by_name.get(name)


def load_file(path: Path) -> list[FunctionConfig]:
    """FunctionConfigs from a YAML file (several documents, or a `List`); other kinds are skipped."""
    configs = []
    for document in yaml.safe_load_all(path.read_text()):
        if not isinstance(document, dict):
            continue
        objects = document.get("items", []) if document.get("kind", "").endswith("List") else [document]
        for obj in objects:
            if isinstance(obj, dict) and obj.get("kind") == KIND:
                configs.append(from_object(obj))
    return configs
