"""The operator's Kubernetes API client: raw JSON objects over one aiohttp session.

Only the handlers talk to the API, and only through this module. It sends plain dicts (no generated model
classes, which cost more than they give for custom resources), writes with server-side apply under one field
manager where the operator owns fields, and translates API failures into the project's error tree at this
edge: 404 → NotFound, 409 → Conflict, 422/400 → InvalidSpec, 403 → Forbidden, anything else (5xx, network,
timeout) → ApiUnavailable. Error messages carry the API server's `Status.message`, never request bodies.
Credentials come from `apiconnection` and are read again once when the API server answers 401.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from porch_operator import errors, metrics
from porch_operator.handlers.apiconnection import Endpoint

Body = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API: group (empty for core), version, plural."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.plural == "namespaces":
            namespace = None  # cluster-scoped
        if namespace:  # None or "": cluster-scoped kinds, or every namespace
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
        if subresource is not None:
            base += f"/{subresource}"
        return base


REPOSITORIES = Resource("config.porch.kpt.dev", "v1alpha1", "repositories", "Repository")
PACKAGE_REVISIONS = Resource("porch.kpt.dev", "v1alpha2", "packagerevisions", "PackageRevision")
PACKAGE_REVISION_RESOURCES = Resource(
    "porch.kpt.dev", "v1alpha2", "packagerevisionresources", "PackageRevisionResources"
)
PACKAGES = Resource("porch.kpt.dev", "v1alpha2", "packages", "Package")
PACKAGE_VARIANTS = Resource("config.porch.kpt.dev", "v1alpha1", "packagevariants", "PackageVariant")
PACKAGE_VARIANT_SETS = Resource("config.porch.kpt.dev", "v1alpha2", "packagevariantsets", "PackageVariantSet")
FUNCTION_CONFIGS = Resource("config.porch.kpt.dev", "v1alpha1", "functionconfigs", "FunctionConfig")
SECRETS = Resource("", "v1", "secrets", "Secret")
NAMESPACES = Resource("", "v1", "namespaces", "Namespace")


class ApiError(Exception):
    """An HTTP error answer of the API server (internal to this module: callers see the error tree)."""

    def __init__(self, status: int, reason: str, body: bytes) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status, self.reason, self.body = status, reason, body


def _status_message(exc: ApiError) -> tuple[str, str]:
    """The (reason, message) of a `kind: Status` error body; nothing else of the body is kept."""
    try:
        status = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        status = {}
    if not isinstance(status, dict) or status.get("kind") != "Status":
        return "", f"HTTP {exc.status} {exc.reason}"
    return str(status.get("reason", "")), str(status.get("message", f"HTTP {exc.status}"))


def translate(exc: BaseException, what: str) -> errors.PorchError:
    """Map an API or transport failure about `what` to the error tree."""
    if isinstance(exc, ApiError):
        reason, message = _status_message(exc)
        text = f"{what}: {message}"
        if exc.status == 404:
            return errors.NotFound(text)
        if exc.status == 409:
            return errors.AlreadyExists(text) if reason == "AlreadyExists" else errors.Conflict(text)
        if exc.status in (400, 422):
            return errors.InvalidSpec(text)
        if exc.status == 403:
            return errors.Forbidden(text)
        return errors.ApiUnavailable(text)
    return errors.ApiUnavailable(f"{what}: {type(exc).__name__}: {exc}")


logger = logging.getLogger(__name__)


class KubeClient:
    """Namespaced CRUD and server-side apply of raw objects.

    `connect` returns the endpoint and credentials (called at first use and again after a 401; a changed CA
    or client certificate takes a restart);
    `field_manager` names the operator in managedFields; `timeout` bounds every request.
    """

    def __init__(self, connect: Callable[[], Endpoint], *, field_manager: str, timeout: float = 30.0) -> None:
        self._connect = connect
        self._endpoint: Endpoint | None = None
        self._session: aiohttp.ClientSession | None = None
        self.field_manager = field_manager
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._discovered: dict[tuple[str, str], Resource] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> tuple[aiohttp.ClientSession, Endpoint]:
        if self._endpoint is None:
            self._endpoint = self._connect()
        if self._session is None:
            # trust_env off: no proxy or netrc lookups (two thread hops per request in aiohttp).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._endpoint.ssl_context, limit=64),
                read_bufsize=2**21,  # objects of up to etcd's 1.5 MiB request limit
            )
        return self._session, self._endpoint

    async def _request(
        self, method: str, path: str, query: Mapping[str, str], data: bytes | None, content_type: str
    ) -> Body:
        for attempt in (1, 2):
            session, endpoint = self._open()
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            if endpoint.authorization:
                headers["Authorization"] = endpoint.authorization
            async with session.request(
                method,
                endpoint.server + path,
                params=dict(query),
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                payload = await response.read()
                if response.status == 401 and attempt == 1:
                    # Credentials rotated on disk (service-account tokens): read them again. The session (and
                    # the requests in flight on it) stays; only the Authorization header changes.
                    self._endpoint = self._connect()
                    continue
                if response.status >= 400:
                    raise ApiError(response.status, response.reason or "", payload)
            result = json.loads(payload) if payload else {}
            return result if isinstance(result, dict) else {}
        raise AssertionError("unreachable")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> Body:
        data = None if body is None else json.dumps(body).encode()
        try:
            return await self._request(method, path, query or {}, data, content_type)
        except (ApiError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise translate(exc, what) from exc
        finally:
            if method != "GET":
                kind = what.split(" ", 2)[1] + ("/status" if path.endswith("/status") else "")
                metrics.API_WRITES.labels(verb=method.lower(), kind=kind).inc()
                logger.debug("API write: %s.", what)

    async def discover(self, api_version: str, kind: str) -> Resource:
        """Where objects of `kind` in `api_version` are served (API discovery, remembered once found).

        NotFound when the API server serves no such kind (a CRD not installed, a typo).
        """
        key = (api_version, kind)
        found = self._discovered.get(key)
        if found is not None:
            return found
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        listing = await self._call("GET", path, what=f"discover {api_version}")
        for entry in listing.get("resources") or []:
            if entry.get("kind") == kind and "/" not in str(entry.get("name", "")):
                found = self._discovered[key] = Resource(group, version, str(entry["name"]), kind)
                return found
        raise errors.NotFound(f"discover {api_version}: the API server serves no kind {kind!r} there")

    async def get(self, resource: Resource, namespace: str, name: str) -> Body:
        return await self._call(
            "GET", resource.path(namespace, name), what=f"get {resource.kind} {namespace}/{name}"
        )

    async def find(self, resource: Resource, namespace: str, name: str) -> Body | None:
        """Like `get`, but None when the object does not exist."""
        try:
            return await self.get(resource, namespace, name)
        except errors.NotFound:
            return None

    async def list_all(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Body]:
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        result = await self._call(
            "GET", resource.path(namespace), query=query, what=f"list {resource.kind} in {namespace or 'all'}"
        )
        items: list[Body] = result.get("items", [])
        return items

    async def create(self, resource: Resource, namespace: str, body: Body) -> Body:
        name = body.get("metadata", {}).get("name", "")
        return await self._call(
            "POST",
            resource.path(namespace),
            body=body,
            query={"fieldManager": self.field_manager},
            what=f"create {resource.kind} {namespace}/{name}",
        )

    async def apply(
        self, resource: Resource, namespace: str, body: Body, *, subresource: str | None = None
    ) -> Body:
        """Server-side apply of the fields the operator owns (forced: the operator is their only writer)."""
        name = body["metadata"]["name"]
        return await self._call(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=body,
            content_type="application/apply-patch+yaml",
            query={"fieldManager": self.field_manager, "force": "true"},
            what=f"apply {resource.kind} {namespace}/{name}{'/' + subresource if subresource else ''}",
        )

    async def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Body | list[Body],
        *,
        subresource: str | None = None,
    ) -> Body:
        """A JSON merge patch (dict) or a JSON patch (list; use a `test` op for optimistic locking)."""
        content_type = (
            "application/json-patch+json" if isinstance(patch, list) else "application/merge-patch+json"
        )
        return await self._call(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=patch,
            content_type=content_type,
            query={"fieldManager": self.field_manager},
            what=f"patch {resource.kind} {namespace}/{name}{'/' + subresource if subresource else ''}",
        )

    async def replace(self, resource: Resource, namespace: str, body: Body) -> Body:
        """PUT the whole object; fails with Conflict when its resourceVersion is stale."""
        name = body["metadata"]["name"]
        return await self._call(
            "PUT",
            resource.path(namespace, name),
            body=body,
            query={"fieldManager": self.field_manager},
            what=f"update {resource.kind} {namespace}/{name}",
        )

    async def patch_changed_status(self, resource: Resource, obj: Body, status: Body) -> None:
        """Patch the fields of `status` that differ from `obj`'s status; nothing when none do, and nothing
        when the object is gone meanwhile."""
        current = obj.get("status") or {}
        changed = {key: value for key, value in status.items() if current.get(key) != value}
        if not changed:
            return
        meta = obj["metadata"]
        try:
            await self.patch(
                resource, meta["namespace"], meta["name"], {"status": changed}, subresource="status"
            )
        except errors.NotFound:
            return

    async def delete(self, resource: Resource, namespace: str, name: str, *, uid: str | None = None) -> None:
        """Delete, tolerating an object that is already gone; `uid` guards against deleting a newer one."""
        options: Body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            options["preconditions"] = {"uid": uid}
        try:
            await self._call(
                "DELETE",
                resource.path(namespace, name),
                body=options,
                what=f"delete {resource.kind} {namespace}/{name}",
            )
        except errors.NotFound:
            return
