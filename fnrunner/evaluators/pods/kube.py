"""The pod evaluator's Kubernetes API calls (kubernetes_asyncio), on raw JSON objects.

Only this module touches the Kubernetes client for pods; API errors become `EvaluatorUnavailable` (or None
for "not found") here, at the edge. Objects are plain dicts as the API server sends them (camelCase), so the
pure code in `templates` and `pool` needs no client models.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from fnrunner.evaluators.evaluation import EvaluatorUnavailable

BAD_REQUEST = 400
NOT_FOUND = 404
CONFLICT = 409
GONE = 410


async def _raw(call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Call a client method without model deserialisation; the parsed JSON body (None when empty)."""
    response = await call(*args, _preload_content=False, **kwargs)
    try:
        body = await response.read()
    finally:
        response.release()
    # Without preloading, the client does not raise on error statuses: do it here, as it would.
    if response.status >= BAD_REQUEST:
        raise ApiException(status=response.status, reason=response.reason)
    return json.loads(body) if body else None


def _unavailable(what: str, exc: ApiException) -> EvaluatorUnavailable:
    return EvaluatorUnavailable(f"Kubernetes API error while {what}: {exc.status} {exc.reason}.")


class PodApi:
    """Pods, the base PodTemplate and pull Secrets in one namespace."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self._core = client.CoreV1Api(api_client)

    async def read_template(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await _raw(self._core.read_namespaced_pod_template, name, self.namespace)
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise _unavailable(f"reading PodTemplate {name}", exc) from exc
        return found

    async def create_template(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        try:
            created: dict[str, Any] = await _raw(
                self._core.create_namespaced_pod_template, self.namespace, body
            )
        except ApiException as exc:
            if exc.status == CONFLICT:
                existing = await self.read_template(name)
                if existing is not None:
                    return existing
            raise _unavailable(f"creating PodTemplate {name}", exc) from exc
        return created

    async def create_pod(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a pod; an existing pod of the same fixed name is returned as is (AlreadyExists)."""
        try:
            created: dict[str, Any] = await _raw(self._core.create_namespaced_pod, self.namespace, body)
        except ApiException as exc:
            name = body["metadata"].get("name")
            if exc.status == CONFLICT and name:
                existing = await self.read_pod(name)
                if existing is not None:
                    return existing
            raise _unavailable("creating a function pod", exc) from exc
        return created

    async def read_pod(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await _raw(self._core.read_namespaced_pod, name, self.namespace)
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise _unavailable(f"reading pod {name}", exc) from exc
        return found

    async def delete_pod(self, name: str) -> None:
        try:
            await _raw(self._core.delete_namespaced_pod, name, self.namespace, grace_period_seconds=0)
        except ApiException as exc:
            if exc.status != NOT_FOUND:
                raise _unavailable(f"deleting pod {name}", exc) from exc

    async def list_pods(self, selector: str) -> tuple[list[dict[str, Any]], str]:
        try:
            body = await _raw(self._core.list_namespaced_pod, self.namespace, label_selector=selector)
        except ApiException as exc:
            raise _unavailable("listing function pods", exc) from exc
        return list(body.get("items") or []), str(body.get("metadata", {}).get("resourceVersion", ""))

    async def watch_pods(
        self, selector: str, resource_version: str, *, timeout_seconds: int = 60
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """(event type, pod) until the server ends the watch; raises ApiException(410) when too old."""
        stream = watch.Watch(return_type="object")
        async with stream:
            async for event in stream.stream(
                self._core.list_namespaced_pod,
                self.namespace,
                label_selector=selector,
                resource_version=resource_version,
                timeout_seconds=timeout_seconds,
                allow_watch_bookmarks=False,
            ):
                yield str(event["type"]), dict(event["raw_object"])

    async def ensure_pull_secret(self, name: str, docker_config: bytes) -> None:
        """Create or update Secret `name` (kubernetes.io/dockerconfigjson) with `docker_config`."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(docker_config).decode()},
        }
        try:
            await _raw(self._core.create_namespaced_secret, self.namespace, body)
            return
        except ApiException as exc:
            if exc.status != CONFLICT:
                raise _unavailable(f"creating Secret {name}", exc) from exc
        try:
            await _raw(self._core.replace_namespaced_secret, name, self.namespace, body)
        except ApiException as exc:
            raise _unavailable(f"updating Secret {name}", exc) from exc
