"""`crds/` installs cleanly on a real API server and every admission policy is enforced."""

from __future__ import annotations

import pytest

from porch_operator import models
from tests.e2e.api import install
from tests.e2e.kube import Kubectl


@pytest.mark.usefixtures("porch_api")
def test_every_crd_is_established_and_served(admin: Kubectl) -> None:
    for kind in models.ALL_KINDS:
        crd = admin.get("crd", kind.crd.name)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True"
        assert conditions.get("NonStructuralSchema", "False") == "False"
        assert admin.run("get", kind.crd.plural, "-A").returncode == 0


@pytest.mark.usefixtures("porch_api")
def test_kubectl_apply_of_the_directory_and_of_the_kustomization(admin: Kubectl) -> None:
    try:
        _apply_every_way(admin)
    finally:
        # Applying crds/ again restores the default identity parameter; name the tests' operator again.
        install.name_the_operator(admin)


def _apply_every_way(admin: Kubectl) -> None:
    # Both ways a user installs crds/ work, and repeating them changes nothing.
    applied = admin.run("apply", "--server-side", "--force-conflicts", "-f", str(install.CRDS))
    assert "error" not in applied.stderr.lower()
    kustomized = admin.run("apply", "--server-side", "--force-conflicts", "-k", str(install.CRDS))
    assert sorted(applied.stdout.split("\n")) == sorted(kustomized.stdout.split("\n"))
    # Client-side apply, the plainest way, works too.
    assert admin.run("apply", "-f", str(install.CRDS)).returncode == 0
    assert admin.run("apply", "-k", str(install.CRDS)).returncode == 0
