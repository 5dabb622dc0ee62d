"""PackageVariantSets and PackageVariants through the running operator: fan-out with every kind of change,
approval, upgrades that keep local edits, removal per deletion policy, template errors, GitOps re-applies that
change nothing, and a restart in the middle of a fan-out."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from tests.e2e.porch.conftest import Porch
from tests.gitrepos import BareRepo, configmap, kptfile

SET_LABEL = "config.porch.kpt.dev/packagevariantset"
SET_LABELS_IMAGE = "ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2.0"

CONTEXT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: kptfile.kpt.dev
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  name: base
  obsolete: "yes"
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
"""

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    kpt.dev/config-injection: required
data:
  size: small
"""

BASE = {
    "Kptfile": kptfile("base"),
    "package-context.yaml": CONTEXT,
    "deployment.yaml": DEPLOYMENT,
    "settings.yaml": SETTINGS,
}


# --- helpers ----------------------------------------------------------------------------------------------


def register(porch: Porch, name: str, repo: BareRepo, **labels: str) -> None:
    porch.admin.apply(
        {
            "apiVersion": "config.porch.kpt.dev/v1alpha1",
            "kind": "Repository",
            "metadata": {"name": name, "labels": labels},
            "spec": {"type": "git", "git": {"repo": repo.url, "branch": "main", "directory": ""}},
        }
    )
    porch.wait_ready(name, kind="repository")


def variant_set(name: str, targets: list[dict[str, Any]], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha2",
        "kind": "PackageVariantSet",
        "metadata": {"name": name, **metadata},
        "spec": {"upstream": {"repo": "catalog", "package": "base"}, "targets": targets},
    }


def full_template() -> dict[str, Any]:
    """A template with every kind of change (and GitOps tracking keys that must not reach revisions)."""
    return {
        "labels": {"team": "edge", "argocd.argoproj.io/instance": "fleet"},
        "labelExprs": [{"key": "region", "valueExpr": "repository.labels['region']"}],
        "annotations": {"owner": "platform"},
        "annotationExprs": [{"key": "target", "valueExpr": "target.name + '/' + packageDefault"}],
        "packageContext": {
            "data": {"tier": "gold"},
            "dataExprs": [{"key": "region", "valueExpr": "repository.labels['region']"}],
            "removeKeys": ["obsolete"],
        },
        "pipeline": {
            "mutators": [
                {
                    "image": SET_LABELS_IMAGE,
                    "name": "labels",
                    "configMapExprs": [{"key": "region", "valueExpr": "repository.labels['region']"}],
                }
            ]
        },
        "injectors": [{"kind": "ConfigMap", "nameExpr": "repository.name + '-settings'"}],
    }


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def condition(body: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in body.get("status", {}).get("conditions", []) if c["type"] == type_), None)


def variants_of(porch: Porch, set_uid: str) -> dict[str, dict[str, Any]]:
    items = porch.admin.get("packagevariants", None, "-l", f"{SET_LABEL}={set_uid}")["items"]
    return {item["metadata"]["name"]: item for item in items}


def authored(porch: Porch, repository: str | None = None) -> dict[str, dict[str, Any]]:
    """The non-placeholder revisions (of one repository)."""
    found = {}
    for name, body in porch.revisions().items():
        if body.get("status", {}).get("revision") == -1:
            continue
        if repository is None or body["spec"]["repository"] == repository:
            found[name] = body
    return found


def wait_variants_ready(porch: Porch, names: list[str], timeout: float = 110) -> None:
    for name in names:
        porch.wait_ready(name, kind="packagevariant", timeout=timeout)


def approve(porch: Porch, name: str) -> None:
    porch.set_lifecycle(name, "Proposed")
    porch.wait_for(f"{name} proposed", lambda: porch.revision(name)["spec"]["lifecycle"] == "Proposed")
    porch.wait_ready(name)
    porch.set_lifecycle(name, "Published", as_user=porch.approver)
    porch.wait_for(f"{name} published", lambda: porch.revision(name).get("status", {}).get("revision", 0) > 0)


def publish_upstream_v2(porch: Porch) -> None:
    draft = porch.create_revision("catalog", "base", "v2-work", {"copyFrom": {"name": "catalog.base.v1"}})
    porch.wait_ready(draft)
    resources = porch.admin.get("packagerevisionresources", draft)
    resources["spec"]["resources"]["new.yaml"] = configmap("new-in-v2", added="upstream")
    resources["spec"]["resources"]["deployment.yaml"] = DEPLOYMENT.replace("replicas: 1", "replicas: 3")
    porch.author.apply(resources)
    porch.wait_for(
        "upstream v2 rendered",
        lambda: (
            (r := porch.admin.get("packagerevisionresources", draft))["status"].get("observedGeneration")
            == r["metadata"]["generation"]
        ),
    )
    approve(porch, draft)


def fleet(porch: Porch, regions: dict[str, str], **labels: str) -> None:
    """An upstream `catalog/base` v1 and one downstream repository per region, labelled fleet=edge."""
    catalog = porch.repo("catalog")
    catalog.seed_package("base", BASE, publish=1)
    register(porch, "catalog", catalog)
    porch.wait_ready("catalog.base.v1")
    for repository, region in regions.items():
        register(porch, repository, porch.repo(repository), fleet="edge", region=region, **labels)
        porch.admin.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{repository}-settings"},
                "data": {"size": f"large-{region}", "zone": region},
            }
        )


# --- the journey ------------------------------------------------------------------------------------------


def test_fan_out_approve_upgrade_and_remove(porch: Porch) -> None:
    regions = {"edge1": "eu", "edge2": "us", "edge3": "ap"}
    fleet(porch, regions)
    register(porch, "elsewhere", porch.repo("elsewhere"), region="none")  # not selected
    manifest = variant_set(
        "fleet",
        [
            {"repositorySelector": {"matchLabels": {"fleet": "edge"}}, "template": full_template()},
            {
                "repositories": [{"name": "elsewhere", "packageNames": ["kept"]}],
                "template": {"deletionPolicy": "orphan", "injectors": [{"name": "edge1-settings"}]},
            },
        ],
    )
    porch.admin.apply(manifest)
    pvs = porch.wait_ready("fleet", kind="packagevariantset", timeout=60)
    assert pvs["status"]["packageVariants"] == 4
    generated = variants_of(porch, pvs["metadata"]["uid"])
    assert sorted(generated) == [
        "fleet-edge1-base",
        "fleet-edge2-base",
        "fleet-edge3-base",
        "fleet-elsewhere-kept",
    ]
    wait_variants_ready(porch, list(generated))

    # Every kind of change is in each downstream draft, rendered.
    for repository, region in regions.items():
        name = f"{repository}.base.packagevariant-1"
        revision = porch.wait_ready(name)
        assert revision["spec"]["lifecycle"] == "Draft"
        labels = revision["metadata"]["labels"]
        assert labels["team"] == "edge" and labels["region"] == region
        assert "argocd.argoproj.io/instance" not in labels
        assert revision["metadata"]["annotations"]["target"] == f"{repository}/base"
        owner = revision["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("PackageVariant", f"fleet-{repository}-base")
        files = porch.resources(name)
        context = documents(files["package-context.yaml"])[0]["data"]
        assert context["tier"] == "gold" and context["region"] == region and "obsolete" not in context
        kpt = documents(files["Kptfile"])[0]
        assert kpt["pipeline"]["mutators"][0]["name"] == f"PackageVariant.fleet-{repository}-base.labels.0"
        assert kpt["info"]["readinessGates"] == [{"conditionType": "config.injection.ConfigMap.settings"}]
        injected = {c["type"]: c for c in kpt["status"]["conditions"]}["config.injection.ConfigMap.settings"]
        assert injected["status"] == "True" and injected["reason"] == "ConfigInjected"
        settings = documents(files["settings.yaml"])[0]
        assert settings["data"] == {"size": f"large-{region}", "zone": region}
        assert settings["metadata"]["annotations"]["kpt.dev/injected-resource"] == f"{repository}-settings"
        deployment = documents(files["deployment.yaml"])[0]
        assert deployment["metadata"]["labels"]["region"] == region  # the prepended set-labels ran
        target = porch.admin.get("packagevariant", f"fleet-{repository}-base")["status"]["downstreamTargets"]
        assert [t["name"] for t in target] == [name]
    assert "elsewhere.kept.packagevariant-1" in porch.revisions()

    # A local edit of one downstream before approval, then approval publishes them all.
    local = porch.admin.get("packagerevisionresources", "edge1.base.packagevariant-1")
    local["spec"]["resources"]["local.yaml"] = configmap("local-only", mine="yes")
    porch.author.apply(local)
    porch.wait_for(
        "local edit rendered",
        lambda: (
            (r := porch.admin.get("packagerevisionresources", "edge1.base.packagevariant-1"))["status"].get(
                "observedGeneration"
            )
            == r["metadata"]["generation"]
        ),
    )
    for repository in [*regions, "elsewhere"]:
        package = "kept" if repository == "elsewhere" else "base"
        approve(porch, f"{repository}.{package}.packagevariant-1")
    wait_variants_ready(porch, list(generated))

    # Upstream v2: each downstream gets an upgrade draft that keeps its own changes and the local edit.
    publish_upstream_v2(porch)
    for repository, region in regions.items():
        name = f"{repository}.base.packagevariant-2"
        porch.wait_for(f"upgrade draft {name}", lambda n=name: n in porch.revisions(), timeout=120)
        revision = porch.wait_ready(name, timeout=120)
        assert revision["spec"]["source"]["upgrade"]["newUpstream"]["name"] == "catalog.base.v2-work"
        assert (
            revision["spec"]["source"]["upgrade"]["currentPackage"]["name"]
            == f"{repository}.base.packagevariant-1"
        )
        porch.wait_ready(f"fleet-{repository}-base", kind="packagevariant", timeout=120)
        files = porch.resources(name)
        assert "new.yaml" in files
        assert documents(files["deployment.yaml"])[0]["spec"]["replicas"] == 3
        assert documents(files["package-context.yaml"])[0]["data"]["region"] == region
        assert documents(files["settings.yaml"])[0]["data"]["zone"] == region
        assert ("local.yaml" in files) == (repository == "edge1")
        assert revision["status"]["upstreamLock"]["git"]["ref"] == "base/v2"

    # Removing targets: edge3 leaves the selector (policy delete), `elsewhere` leaves the set (policy orphan).
    porch.admin.run("label", "repository", "edge3", "fleet-")
    manifest["spec"]["targets"] = manifest["spec"]["targets"][:1]
    porch.admin.apply(manifest)
    porch.wait_for(
        "edge3's variant deleted", lambda: not porch.admin.exists("packagevariant", "fleet-edge3-base")
    )
    porch.wait_for(
        "elsewhere's variant deleted",
        lambda: not porch.admin.exists("packagevariant", "fleet-elsewhere-kept"),
    )
    porch.wait_for(
        "edge3's upgrade draft deleted", lambda: "edge3.base.packagevariant-2" not in porch.revisions()
    )
    published = porch.wait_for(
        "edge3's published revision proposed for deletion",
        lambda: (
            (r := porch.revision("edge3.base.packagevariant-1"))["spec"]["lifecycle"] == "DeletionProposed"
            and r
        ),
    )
    assert not published["metadata"].get("ownerReferences")
    orphan = porch.revision("elsewhere.kept.packagevariant-1")
    assert orphan["spec"]["lifecycle"] == "Published" and not orphan["metadata"].get("ownerReferences")
    assert porch.wait_ready("fleet", kind="packagevariantset")["status"]["packageVariants"] == 2

    # Deleting the set deletes its variants (garbage collection), and their deletion policy applies.
    porch.admin.run("delete", "packagevariantset", "fleet")
    porch.wait_for("variants gone", lambda: not porch.admin.get("packagevariants")["items"])
    for repository in ("edge1", "edge2"):
        porch.wait_for(
            f"{repository}'s draft deleted",
            lambda r=repository: f"{r}.base.packagevariant-2" not in porch.revisions(),
        )
        published = porch.revision(f"{repository}.base.packagevariant-1")
        assert published["spec"]["lifecycle"] == "DeletionProposed"


# --- errors -----------------------------------------------------------------------------------------------


def test_invalid_template_is_reported_and_fixed(porch: Porch) -> None:
    fleet(porch, {"edge1": "eu"})
    broken = variant_set(
        "broken",
        [
            {
                "repositorySelector": {"matchLabels": {"fleet": "edge"}},
                "template": {"labelExprs": [{"key": "zone", "valueExpr": "repository.labels['zone']"}]},
            }
        ],
    )
    porch.admin.apply(broken)
    stalled = porch.wait_for(
        "Stalled condition",
        lambda: (c := condition(porch.admin.get("packagevariantset", "broken"), "Stalled")) and c,
    )
    assert stalled["status"] == "True" and stalled["reason"] == "TemplateError"
    assert "spec.targets[0].template.labelExprs[0].valueExpr" in stalled["message"]
    assert "zone" in stalled["message"]
    body = porch.admin.get("packagevariantset", "broken")
    assert condition(body, "Ready")["status"] == "False"
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    assert porch.admin.get("packagevariants")["items"] == []

    broken["spec"]["targets"][0]["template"]["labelExprs"][0]["valueExpr"] = "repository.labels['region']"
    porch.admin.apply(broken)
    fixed = porch.wait_ready("broken", kind="packagevariantset")
    assert condition(fixed, "Stalled") is None
    porch.wait_ready("broken-edge1-base", kind="packagevariant", timeout=120)


# --- GitOps -----------------------------------------------------------------------------------------------


def versions(porch: Porch) -> dict[str, str]:
    found = {}
    for kind in ("packagevariantsets", "packagevariants", "packagerevisions", "packagerevisionresources"):
        for item in porch.admin.get(kind)["items"]:
            found[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return found


def test_server_side_reapply_changes_nothing(porch: Porch) -> None:
    fleet(porch, {"edge1": "eu", "edge2": "us"})
    manifest = variant_set(
        "gitops",
        [{"repositorySelector": {"matchLabels": {"fleet": "edge"}}, "template": full_template()}],
        labels={"kustomize.toolkit.fluxcd.io/name": "apps", "app.kubernetes.io/instance": "apps"},
        annotations={
            "argocd.argoproj.io/tracking-id": "apps:config.porch.kpt.dev/PackageVariantSet:x/gitops"
        },
    )
    text = yaml.safe_dump(manifest)
    apply = ("apply", "--server-side", "--field-manager=kustomize-controller", "-f", "-")
    porch.admin.run(*apply, stdin=text)
    porch.wait_ready("gitops", kind="packagevariantset")
    wait_variants_ready(porch, ["gitops-edge1-base", "gitops-edge2-base"])
    for name in ("edge1.base.packagevariant-1", "edge2.base.packagevariant-1"):
        porch.wait_ready(name)
    time.sleep(3)  # let the last status writes land
    before = versions(porch)

    for _ in range(2):
        porch.admin.run(*apply, stdin=text)
    time.sleep(5)
    assert versions(porch) == before

    # Nothing of GitOps tracking reached the generated objects; the set's spec has one manager: the applier.
    for name in ("gitops-edge1-base", "gitops-edge2-base"):
        variant = porch.admin.get("packagevariant", name)
        assert set(variant["metadata"].get("labels", {})) == {SET_LABEL}
        assert not variant["metadata"].get("annotations")
    for revision in authored(porch).values():
        keys = set(revision["metadata"].get("labels", {})) | set(revision["metadata"].get("annotations", {}))
        assert not any(k.startswith(("argocd.argoproj.io/", "kustomize.toolkit.fluxcd.io/")) for k in keys)
        assert "app.kubernetes.io/instance" not in keys
    managers = porch.admin.get("packagevariantset", "gitops", "--show-managed-fields")["metadata"][
        "managedFields"
    ]
    spec_managers = {m["manager"] for m in managers if "f:spec" in json.dumps(m.get("fieldsV1", {}))}
    assert spec_managers == {"kustomize-controller"}
    status_managers = {m["manager"] for m in managers if m.get("subresource") == "status"}
    assert status_managers == {"porch-operator"}


# --- restarts ---------------------------------------------------------------------------------------------


def test_restart_mid_fan_out_converges_without_duplicates(porch: Porch) -> None:
    fleet(porch, {"edge1": "eu", "edge2": "us"})
    packages = ["a", "b", "c", "d"]
    manifest = variant_set(
        "restart",
        [
            {
                "repositories": [
                    {"name": "edge1", "packageNames": packages},
                    {"name": "edge2", "packageNames": packages},
                ]
            }
        ],
    )
    porch.admin.apply(manifest)
    wanted = [f"{repo}.{pkg}.packagevariant-1" for repo in ("edge1", "edge2") for pkg in packages]
    porch.wait_for("the fan-out under way", lambda: set(wanted) & set(porch.revisions()), timeout=120)
    porch.stack.kill_operator()
    try:
        revisions = porch.revisions()
        ready = [
            n
            for n in wanted
            if n in revisions and (c := condition(revisions[n], "Ready")) and c["status"] == "True"
        ]
    finally:
        porch.stack.start_operator()
    assert len(ready) < len(wanted)  # killed in the middle
    for name in wanted:
        porch.wait_for(f"{name} exists", lambda n=name: n in porch.revisions(), timeout=110)
        porch.wait_ready(name, timeout=110)
    wait_variants_ready(porch, [f"restart-{repo}-{pkg}" for repo in ("edge1", "edge2") for pkg in packages])
    for repository in ("edge1", "edge2"):
        assert sorted(authored(porch, repository)) == sorted(n for n in wanted if n.startswith(repository))
    assert len(porch.admin.get("packagevariants")["items"]) == 8
    # No stray drafts in git either: one draft branch per downstream package.
    for repository in ("edge1", "edge2"):
        refs = BareRepo(porch.git_root / f"{repository}.git").refs()
        drafts = sorted(ref for ref in refs if ref.startswith("refs/heads/drafts/"))
        assert drafts == [f"refs/heads/drafts/{pkg}/packagevariant-1" for pkg in packages]

    # Once converged, another restart writes nothing.
    time.sleep(3)
    before = versions(porch)
    porch.stack.restart_operator()
    time.sleep(8)
    assert versions(porch) == before


# --- a PackageVariant of its own --------------------------------------------------------------------------


def test_variant_pinned_to_a_revision_adopts_then_upgrades(porch: Porch) -> None:
    catalog = porch.repo("catalog")
    catalog.seed_package("base", BASE, publish=1)
    catalog.seed_package("base", {**BASE, "new.yaml": configmap("new-in-v2")}, publish=2)
    register(porch, "catalog", catalog)
    register(porch, "site", porch.repo("site"))
    porch.wait_ready("catalog.base.v2")
    manual = porch.create_revision(
        "site", "app", "manual", {"cloneFrom": {"upstreamRef": {"name": "catalog.base.v1"}}}
    )
    porch.wait_ready(manual)
    approve(porch, manual)
    variant = {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "PackageVariant",
        "metadata": {"name": "paris"},
        "spec": {
            "upstream": {"repo": "catalog", "package": "base", "revision": 1},
            "downstream": {"repo": "site", "package": "app"},
            "adoptionPolicy": "adoptExisting",
            "packageContext": {"data": {"site": "paris"}},
            "injectors": [{"name": "site-settings"}],
        },
    }
    porch.admin.apply(configmap("site-settings", size="medium"))
    porch.admin.apply(variant)

    # Adopted, and as the published revision lacks the variant's changes, edited in a new draft (still v1).
    adopted = porch.wait_for(
        "adopted", lambda: (r := porch.revision(manual))["metadata"].get("ownerReferences") and r
    )
    assert adopted["metadata"]["ownerReferences"][0]["name"] == "paris"
    edit = "site.app.packagevariant-1"
    porch.wait_for("edit draft", lambda: edit in porch.revisions())
    assert porch.revision(edit)["spec"]["source"] == {"copyFrom": {"name": manual}}
    porch.wait_ready("paris", kind="packagevariant", timeout=110)
    files = porch.resources(edit)
    assert documents(files["package-context.yaml"])[0]["data"]["site"] == "paris"
    assert "new.yaml" not in files  # revision 1 is honoured, not the latest
    assert porch.revision(edit)["status"]["upstreamLock"]["git"]["ref"] == "base/v1"

    # Moving the pin: the unpublished draft waits; once it is published, an upgrade draft follows.
    variant["spec"]["upstream"]["revision"] = 2
    porch.admin.apply(variant)
    pending = porch.wait_for(
        "upgrade pending",
        lambda: (
            (c := condition(porch.admin.get("packagevariant", "paris"), "Ready"))
            and c["reason"] == "UpgradePending"
            and c
        ),
    )
    assert pending["status"] == "False"
    approve(porch, edit)
    upgrade = "site.app.packagevariant-2"
    porch.wait_for("upgrade draft", lambda: upgrade in porch.revisions(), timeout=90)
    porch.wait_ready("paris", kind="packagevariant", timeout=110)
    revision = porch.revision(upgrade)
    assert revision["spec"]["source"]["upgrade"]["oldUpstream"]["name"] == "catalog.base.v1"
    assert revision["spec"]["source"]["upgrade"]["newUpstream"]["name"] == "catalog.base.v2"
    assert revision["status"]["upstreamLock"]["git"]["ref"] == "base/v2"
    files = porch.resources(upgrade)
    assert "new.yaml" in files
    assert documents(files["package-context.yaml"])[0]["data"]["site"] == "paris"
    assert documents(files["settings.yaml"])[0]["data"] == {"size": "medium"}

    # Deleting the variant (policy delete): its draft goes, its published revisions are proposed for deletion.
    porch.admin.run("delete", "packagevariant", "paris", "--timeout=60s")
    porch.wait_for("draft deleted", lambda: upgrade not in porch.revisions())
    for name in (manual, edit):
        released = porch.wait_for(
            f"{name} proposed for deletion",
            lambda n=name: (r := porch.revision(n))["spec"]["lifecycle"] == "DeletionProposed" and r,
        )
        assert not released["metadata"].get("ownerReferences")
