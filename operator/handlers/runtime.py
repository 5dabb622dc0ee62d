"""The composition root: every long-lived object of the operator, built once at start-up.

`Runtime.start()` builds the Kubernetes client, the git store, the function runtime (the fnrunner client) and
the registry of repository workers; kopf keeps the Runtime in its `memo` and every handler reaches the rest
through it. Nothing here is a module-level singleton, so tests build their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fnrunner import client as fnclient
from porch_operator.gitstore import GitStore, Signature
from porch_operator.handlers import functions
from porch_operator.handlers.apiconnection import Endpoint
from porch_operator.handlers.kube import KubeClient
from porch_operator.handlers.settings import OperatorSettings

if TYPE_CHECKING:
    from porch_operator.handlers.repositories import WorkerRegistry

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What every handler needs; see the module docstring."""

    settings: OperatorSettings
    kube: KubeClient
    store: GitStore
    functions: functions.RunnerRuntime
    workers: WorkerRegistry = field(init=False)  # set by the caller: workers need the runtime

    @classmethod
    async def start(cls, settings: OperatorSettings, connect: Callable[[], Endpoint]) -> Runtime:
        """`connect` gives the API endpoint and credentials (see `apiconnection`)."""
        kube = KubeClient(connect, field_manager=settings.field_manager, timeout=settings.api_timeout)
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        store = GitStore(
            settings.cache_dir,
            committer=Signature(settings.committer_name, settings.committer_email),
            timeout=settings.git_timeout,
        )
        client = fnclient.EvaluatorClient(settings.function_runner) if settings.function_runner else None
        runner = functions.RunnerRuntime(client, timeout=settings.function_timeout)
        logger.info(
            "Operator runtime ready: git cache %s, function runner %s.",
            settings.cache_dir,
            settings.function_runner,
        )
        return cls(settings=settings, kube=kube, store=store, functions=runner)

    async def close(self) -> None:
        await self.functions.close()
        await self.store.aclose()
        await self.kube.close()
