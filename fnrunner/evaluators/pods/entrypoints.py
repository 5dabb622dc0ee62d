"""Which command the wrapper must run inside a function image (its entrypoint), without registry access.

Porch reads the entrypoint from the image config in the registry. This runner cannot reach registries here,
so the lookup is pluggable, tried in order: the `fnrunner.porch.kpt.dev/entrypoint` annotation of the
image's FunctionConfig; a static map (`--entrypoints FILE`: image name or full reference → command);
catalogue images (`ghcr.io/kptdev/krm-functions-catalog`, `gcr.io/kpt-fn`), whose binary is
`/usr/local/bin/function`. A registry-backed resolver can be added behind the same protocol (documented gap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import yaml

from fnrunner.api import limits
from fnrunner.evaluators import functionconfigs
from fnrunner.evaluators.images import ImageRef

CATALOGUE_ENTRYPOINT = ("/usr/local/bin/function",)


class EntrypointResolver(Protocol):
    def entrypoint(self, ref: ImageRef) -> tuple[str, ...] | None: ...


class ConfiguredEntrypoints:
    """The resolver described in the module docstring."""

    def __init__(
        self,
        store: functionconfigs.FunctionConfigStore,
        *,
        static: Mapping[str, Sequence[str]] | None = None,
        default_prefix: str = limits.DEFAULT_IMAGE_PREFIX,
    ) -> None:
        self.store = store
        self.static = {key: tuple(value) for key, value in (static or {}).items()}
        self.default_prefix = default_prefix

    def entrypoint(self, ref: ImageRef) -> tuple[str, ...] | None:
        config = self.store.for_image(ref, default_prefix=self.default_prefix)
        if config is not None and config.entrypoint:
            return config.entrypoint
        for key in (ref.qualified, f"{ref.repository}/{ref.name}", ref.name):
            if key in self.static:
                return self.static[key]
        if ref.with_prefix_matching((limits.DEFAULT_IMAGE_PREFIX, limits.LEGACY_IMAGE_PREFIX)):
            return CATALOGUE_ENTRYPOINT
        return None


def load_static(path: Path) -> dict[str, list[str]]:
    """A YAML map of image → command (a list, or a string for a single path)."""
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must map images to entrypoints.")
    return {
        str(key): [value] if isinstance(value, str) else [str(part) for part in value]
        for key, value in loaded.items()
    }
