"""Credentials of the operator's API client (`apiconnection`), and that the operator's entry point keeps
kubernetes_asyncio's generated models out of its memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kopf
import pytest

from porch_operator.handlers import apiconnection
from porch_operator.handlers.settings import SettingsError


def test_bearer_token_is_a_header_and_never_in_the_repr() -> None:
    endpoint = apiconnection.endpoint(kopf.ConnectionInfo(server="https://127.0.0.1:6443/", token="s3cr3t"))
    assert endpoint.server == "https://127.0.0.1:6443"
    assert endpoint.authorization == "Bearer s3cr3t"
    assert "s3cr3t" not in repr(endpoint)


def test_basic_credentials() -> None:
    info = kopf.ConnectionInfo(server="https://127.0.0.1:6443", username="u", password="p")
    assert apiconnection.endpoint(info).authorization == "Basic dTpw"


def test_a_server_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(SettingsError, match="not an http"):
        apiconnection.endpoint(kopf.ConnectionInfo(server="127.0.0.1:6443"))


def test_no_credentials_at_all_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SettingsError, match="No Kubernetes credentials"):
        apiconnection.connection(kopf.OperatorSettings())


def test_a_missing_kubeconfig_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="missing cannot be read"):
        apiconnection.connection(kopf.OperatorSettings())


def test_the_operator_entry_point_does_not_load_kubernetes_asyncio() -> None:
    script = (
        "import sys, porch_operator.handlers.__main__, porch_operator.handlers.registration; "
        "print(sorted(m for m, v in sys.modules.items() if m.startswith('kubernetes') and v is not None))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
