"""Operator settings: one frozen object, read once at start from `PORCH_*` environment variables.

Every setting has a default that suits a single-replica deployment next to the fnrunner sidecar; the
environment variable and the meaning are documented on each field. Invalid values fail the start with a
message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


class SettingsError(ValueError):
    """An environment variable holds a value the operator cannot use."""


@dataclass(frozen=True)
class OperatorSettings:
    #: PORCH_CACHE_DIR: where local git mirrors live (a disposable cache, rebuilt after restarts).
    cache_dir: Path = Path("/tmp/porch-operator/cache")
    #: PORCH_FUNCTION_RUNNER: address of the fnrunner gRPC service; empty disables rendering of pipelines
    #: that name functions (they then fail with a clear message).
    function_runner: str = "127.0.0.1:9445"
    #: PORCH_FUNCTION_TIMEOUT: seconds one function evaluation may take.
    function_timeout: float = 120.0
    #: PORCH_DEFAULT_IMAGE_PREFIX: prefix for pipeline images without a registry.
    default_image_prefix: str = "ghcr.io/kptdev/krm-functions-catalog/"
    #: PORCH_SYNC_INTERVAL: seconds between periodic repository checks when no cron schedule is set.
    sync_interval: float = 300.0
    #: PORCH_GIT_TIMEOUT: seconds one git network operation (fetch, push, ls-remote) may take.
    git_timeout: float = 60.0
    #: PORCH_API_TIMEOUT: seconds one Kubernetes API request may take.
    api_timeout: float = 30.0
    #: PORCH_METRICS_PORT: port of the Prometheus /metrics endpoint; 0 disables it.
    metrics_port: int = 9464
    #: PORCH_METRICS_ADDRESS: address the metrics endpoint binds to.
    metrics_address: str = "0.0.0.0"  # scraped from inside the cluster
    #: PORCH_COMMITTER_NAME / PORCH_COMMITTER_EMAIL: the committer of every commit the operator makes.
    committer_name: str = "Package Orchestration Service"
    committer_email: str = "porch@kpt.dev"
    #: PORCH_FIELD_MANAGER: field manager of the operator's writes (server-side apply).
    field_manager: str = "porch-operator"
    #: PORCH_WRITE_CONCURRENCY: API writes in flight at once during a repository sync.
    write_concurrency: int = 16

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> OperatorSettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for spec in fields(cls):
            variable = f"PORCH_{spec.name.upper()}"
            raw = env.get(variable)
            if raw is None:
                continue
            default = spec.default
            try:
                if isinstance(default, bool):
                    values[spec.name] = raw.lower() in ("1", "true", "yes")
                elif isinstance(default, int):
                    values[spec.name] = int(raw)
                elif isinstance(default, float):
                    values[spec.name] = float(raw)
                elif isinstance(default, Path):
                    values[spec.name] = Path(raw)
                else:
                    values[spec.name] = raw
            except ValueError as exc:
                raise SettingsError(f"{variable}={raw!r} is not a valid {type(default).__name__}") from exc
        return cls(**values)  # type: ignore[arg-type]
