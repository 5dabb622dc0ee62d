"""Keep a FunctionConfigStore in step with the FunctionConfig objects of one namespace (Kubernetes watch).

List, then watch from the list's resourceVersion; on a 410 (history expired) or any connection error, list
again after a short pause. Each applied object gets `status.functionRunnerObservedGeneration` (best effort;
Porch's per-component finalizer is not added, see docs/fnrunner.md). A missing CRD is logged and retried
slowly, so the runner works (builtin and static configs) in clusters without it. `on_change` is called
after every change, e.g. to warm function pods.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from fnrunner.evaluators import functionconfigs

log = logging.getLogger(__name__)

NOT_FOUND = 404
GONE = 410


class FunctionConfigWatcher:
    """See the module docstring."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str,
        store: functionconfigs.FunctionConfigStore,
        on_change: Callable[[], None] | None = None,
        static: list[functionconfigs.FunctionConfig] | None = None,
    ) -> None:
        self.namespace = namespace
        self.store = store
        self.on_change = on_change
        self.static = list(static or [])
        self.synced = asyncio.Event()
        self._api = client.CustomObjectsApi(api_client)
        self._live: dict[str, functionconfigs.FunctionConfig] = {}

    def _publish(self) -> None:
        # Static configs first, so that a cluster object cannot take over a locally pinned image.
        self.store.replace_all([*self.static, *self._live.values()])
        if self.on_change is not None:
            self.on_change()

    def _apply(self, kind: str, obj: dict[str, Any]) -> bool:
        name = str((obj.get("metadata") or {}).get("name", ""))
        if kind == "DELETED":
            return self._live.pop(name, None) is not None
        try:
            config = functionconfigs.from_object(obj)
        except (functionconfigs.InvalidFunctionConfig, ValueError) as exc:
            log.warning("FunctionConfig %s/%s is invalid and ignored: %s", self.namespace, name, exc)
            self._live.pop(name, None)
            return True
        self._live[name] = config
        return True

    async def _mark_observed(self, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        generation = metadata.get("generation")
        if (
            generation is None
            or (obj.get("status") or {}).get("functionRunnerObservedGeneration") == generation
        ):
            return
        try:
            await self._api.patch_namespaced_custom_object_status(
                functionconfigs.GROUP,
                functionconfigs.VERSION,
                self.namespace,
                functionconfigs.PLURAL,
                metadata["name"],
                {"status": {"functionRunnerObservedGeneration": generation}},
                # A dict body would otherwise be sent as a JSON patch, which needs a list.
                _content_type="application/merge-patch+json",  # type: ignore[call-arg]
            )
        except ApiException as exc:
            log.info("Could not record the observed generation of %s: %s", metadata.get("name"), exc.status)

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            try:
                await self._list_and_watch()
            except ApiException as exc:
                if exc.status == NOT_FOUND:
                    log.warning("The FunctionConfig API is not served in this cluster; retrying in 30 s.")
                    self.synced.set()
                    await asyncio.sleep(30)
                elif exc.status != GONE:
                    log.warning("Watching FunctionConfigs failed (%s); retrying.", exc.status)
                    await asyncio.sleep(1)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("Watching FunctionConfigs failed (%s); retrying.", exc)
                await asyncio.sleep(1)

    async def _list_and_watch(self) -> None:
        listed = await self._api.list_namespaced_custom_object(
            functionconfigs.GROUP, functionconfigs.VERSION, self.namespace, functionconfigs.PLURAL
        )
        self._live.clear()
        for obj in listed.get("items") or []:
            self._apply("ADDED", obj)
            await self._mark_observed(obj)
        self._publish()
        self.synced.set()
        version = str(listed.get("metadata", {}).get("resourceVersion", ""))
        while True:
            stream = watch.Watch(return_type="object")
            async with stream:
                async for event in stream.stream(
                    self._api.list_namespaced_custom_object,
                    functionconfigs.GROUP,
                    functionconfigs.VERSION,
                    self.namespace,
                    functionconfigs.PLURAL,
                    resource_version=version,
                    timeout_seconds=60,
                ):
                    obj = dict(event["raw_object"])
                    version = str(obj.get("metadata", {}).get("resourceVersion", version))
                    if self._apply(str(event["type"]), obj):
                        self._publish()
                    if event["type"] != "DELETED":
                        await self._mark_observed(obj)
