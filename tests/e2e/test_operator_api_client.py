"""The operator's own API client (`porch_operator.handlers.kube` over `apiconnection`) against the real API
server: the credential kinds of a kubeconfig, the error tree at the edge, and reading credentials again
after a 401 (rotated service-account tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import kopf
import pytest

from localcluster.controlplane import ControlPlane
from porch_operator import errors
from porch_operator.handlers import apiconnection, kube
from tests.e2e.kube import Kubectl

NAMESPACES = kube.Resource("", "v1", "namespaces", "Namespace")
CONFIGMAPS = kube.Resource("", "v1", "configmaps", "ConfigMap")
SELF_REVIEWS = kube.Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview")


def connect_with(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> apiconnection.Endpoint:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return apiconnection.endpoint(apiconnection.connection(kopf.OperatorSettings()))


async def test_client_certificate_kubeconfig_reads_and_writes(
    control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = connect_with(control_plane.admin_kubeconfig, monkeypatch)
    assert "Bearer" not in repr(endpoint)
    client = kube.KubeClient(lambda: endpoint, field_manager="api-client-test")
    try:
        assert (await client.get(NAMESPACES, "", "default"))["metadata"]["name"] == "default"
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "api-client"},
            "data": {"a": "1"},
        }
        created = await client.create(CONFIGMAPS, "default", body)
        assert created["metadata"]["managedFields"][0]["manager"] == "api-client-test"
        with pytest.raises(errors.AlreadyExists):
            await client.create(CONFIGMAPS, "default", body)
        patched = await client.patch(CONFIGMAPS, "default", "api-client", {"data": {"a": "2"}})
        assert patched["data"] == {"a": "2"}
        with pytest.raises(errors.InvalidSpec, match="ConfigMap default/api-client"):
            await client.patch(
                CONFIGMAPS, "default", "api-client", [{"op": "test", "path": "/data/a", "value": "1"}]
            )
        await client.delete(CONFIGMAPS, "default", "api-client")
        assert await client.find(CONFIGMAPS, "default", "api-client") is None
    finally:
        await client.close()


async def test_forbidden_and_not_found_are_told_apart(
    control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = connect_with(control_plane.kubeconfig_for("nobody-at-all"), monkeypatch)
    client = kube.KubeClient(lambda: endpoint, field_manager="api-client-test")
    try:
        with pytest.raises(errors.Forbidden, match="nobody-at-all"):
            await client.get(NAMESPACES, "", "default")
    finally:
        await client.close()
    admin = kube.KubeClient(
        lambda: connect_with(control_plane.admin_kubeconfig, monkeypatch), field_manager="t"
    )
    try:
        with pytest.raises(errors.NotFound):
            await admin.get(NAMESPACES, "", "no-such-namespace")
    finally:
        await admin.close()


async def test_credentials_are_read_again_after_a_401(
    control_plane: ControlPlane, admin: Kubectl, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.run("create", "serviceaccount", "rotating", "--namespace=default")
    token = admin.run("create", "token", "rotating", "--namespace=default", "--duration=1h").stdout.strip()
    trusted = connect_with(control_plane.admin_kubeconfig, monkeypatch)
    context = apiconnection.endpoint(
        kopf.ConnectionInfo(server=trusted.server, ca_data=_ca_data(control_plane), token="not-a-token")
    ).ssl_context
    handed_out: list[str] = []

    def connect() -> apiconnection.Endpoint:
        # The first read finds an expired token on disk; the second the rotated one.
        value = "not-a-token" if not handed_out else token
        handed_out.append(value)
        return apiconnection.Endpoint(trusted.server, context, f"Bearer {value}")

    client = kube.KubeClient(connect, field_manager="api-client-test")
    try:
        review = await client.create(
            SELF_REVIEWS,
            "",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}},
        )
        assert review["status"]["userInfo"]["username"] == "system:serviceaccount:default:rotating"
        assert handed_out == ["not-a-token", token]
        await client.create(
            SELF_REVIEWS,
            "",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}},
        )
        assert len(handed_out) == 2  # kept while it works
    finally:
        await client.close()
    admin.run("delete", "serviceaccount", "rotating", "--namespace=default")


def _ca_data(control_plane: ControlPlane) -> str:
    config = json.loads(control_plane.admin_kubeconfig.read_text())
    return str(config["clusters"][0]["cluster"]["certificate-authority-data"])
