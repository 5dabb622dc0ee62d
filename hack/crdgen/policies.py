"""The ValidatingAdmissionPolicies shipped with the CRDs: who may do what.

The CRDs' CEL rules say what holds for everyone. These policies add the rules that depend on the requesting
identity, which a CRD cannot see:

- approval: Proposed -> Published only by a user allowed to `update` `packagerevisions/approval` in the
  namespace, and only while every readiness gate has a True package condition;
- published-deletion: a Published PackageRevision cannot be deleted (DeletionProposed first), except when
  its namespace is being deleted (git keeps it; the operator does not touch git then);
- revision-origin: revisions without `spec.source` (discovered in git) and the latest-revision label are
  the operator's;
- resources-draft-only: the files of a revision change only while it is a Draft, by the lifecycle label the
  operator mirrors onto each PackageRevisionResources, which only the operator may set;
- operator-owned: Package objects and the status of revisions, resources and packages are the operator's;
- requesters (a MutatingAdmissionPolicy, with a validation guarding it): who created a revision and who
  approved it is stamped into the annotations `porch.kpt.dev/created-by` and `porch.kpt.dev/approved-by`
  from the request's user; a user can set them to nothing but their own name. The operator uses them as the
  git authors of the revision's commits and of its publication (Porch uses the requesting user the same way).

The operator's identity is a parameter: the ConfigMap `porch-system/porch-operator-identity` (key `username`:
one user name; key `groups`: comma-separated group names; a request from that user or from any of those
groups is the operator). Every binding names it with `parameterNotFoundAction: Deny`, so without it nobody
passes these policies: the install fails closed. The operator is exempt from all of these policies.
"""

from __future__ import annotations

from typing import Any

from porch_operator import models

OPERATOR_NAMESPACE = "porch-system"
IDENTITY_CONFIGMAP = "porch-operator-identity"
DEFAULT_OPERATOR_USERNAME = "system:serviceaccount:porch-system:porch-operator"
POLICY_SUFFIX = ".porch.kpt.dev"

GROUP = models.PackageRevision.crd.group
REVISIONS = models.PackageRevision.crd.plural
RESOURCES = models.PackageRevisionResources.crd.plural
PACKAGES = models.Package.crd.plural

IS_OPERATOR = (
    "params != null && has(params.data) && ("
    "('username' in params.data && params.data['username'] != '' && "
    "request.userInfo.username == params.data['username']) || "
    "('groups' in params.data && has(request.userInfo.groups) && params.data['groups'].split(',')"
    ".exists(g, g.trim() != '' && g.trim() in request.userInfo.groups)))"
)


def _label(obj: str, key: str) -> str:
    """The optional value of label `key` on `obj` (none on a missing object, labels or key)."""
    return f"{obj} == null ? optional.none() : {obj}.metadata.?labels[?'{key}']"


def _reserved_label(label: str) -> str:
    return f"the label {label} is maintained by the porch operator: it cannot be set, changed or removed"


def _rules(operations: list[str], *resources: str) -> dict[str, Any]:
    return {
        "apiGroups": [GROUP],
        "apiVersions": ["*"],
        "operations": operations,
        "resources": list(resources),
    }


def _policy(
    name: str, *, rules: list[dict[str, Any]], variables: list[tuple[str, str]], validations: list[Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name + POLICY_SUFFIX, "labels": {"app.kubernetes.io/part-of": "porch-operator"}},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {"resourceRules": rules},
            "variables": [
                {"name": "isOperator", "expression": IS_OPERATOR},
                *({"name": var, "expression": expression} for var, expression in variables),
            ],
            "validations": validations,
        },
    }


def _validation(
    expression: str, *, reason: str, message: str, message_expression: str = ""
) -> dict[str, Any]:
    """A validation the operator always passes; `message` stands in when `message_expression` fails."""
    entry: dict[str, Any] = {"expression": f"variables.isOperator || {expression}", "message": message}
    if message_expression:
        entry["messageExpression"] = message_expression
    entry["reason"] = reason
    return entry


def _binding(policy: dict[str, Any]) -> dict[str, Any]:
    name = policy["metadata"]["name"]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "porch-operator"}},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "paramRef": {
                "name": IDENTITY_CONFIGMAP,
                "namespace": OPERATOR_NAMESPACE,
                "parameterNotFoundAction": "Deny",
            },
        },
    }


def approval() -> dict[str, Any]:
    pending_gates = (
        "!has(object.spec.readinessGates) ? [] : "
        "object.spec.readinessGates.map(g, g.conditionType).filter(t, "
        "!(has(object.status) && has(object.status.packageConditions) && "
        "object.status.packageConditions.exists(c, c.type == t && c.status == 'True')))"
    )
    may_approve = (
        f"authorizer.group('{GROUP}').resource('{REVISIONS}').subresource('approval')"
        ".namespace(request.namespace).check('update').allowed()"
    )
    return _policy(
        "packagerevision-approval",
        rules=[_rules(["UPDATE"], REVISIONS)],
        variables=[
            ("publishing", "oldObject.spec.lifecycle == 'Proposed' && object.spec.lifecycle == 'Published'"),
            ("pendingGates", pending_gates),
        ],
        validations=[
            _validation(
                f"!variables.publishing || {may_approve}",
                reason="Forbidden",
                message=f"only approvers (who may update {REVISIONS}/approval) may publish a PackageRevision",
                message_expression=(
                    "'only approvers may publish a PackageRevision: ' + request.userInfo.username + "
                    f"' may not update {REVISIONS}/approval in namespace ' + request.namespace"
                ),
            ),
            _validation(
                "!variables.publishing || size(variables.pendingGates) == 0",
                reason="Invalid",
                message="cannot publish: a readiness gate has no True condition in status.packageConditions",
                message_expression=(
                    "'cannot publish ' + object.metadata.name + ': readiness gates without a True condition "
                    "in "
                    "status.packageConditions: ' + variables.pendingGates.join(', ')"
                ),
            ),
        ],
    )


def published_deletion() -> dict[str, Any]:
    return _policy(
        "packagerevision-published-deletion",
        rules=[_rules(["DELETE"], REVISIONS)],
        variables=[],
        validations=[
            _validation(
                # Deleting the namespace deletes everything in it; git keeps the revisions.
                "oldObject.spec.lifecycle != 'Published' || "
                "(namespaceObject != null && has(namespaceObject.metadata.deletionTimestamp))",
                reason="Forbidden",
                message=(
                    "a Published PackageRevision cannot be deleted: "
                    "set spec.lifecycle to DeletionProposed first"
                ),
                message_expression=(
                    "'PackageRevision ' + oldObject.metadata.name + ' is Published: set spec.lifecycle to "
                    "DeletionProposed before deleting it'"
                ),
            )
        ],
    )


def revision_origin() -> dict[str, Any]:
    label = models.LATEST_REVISION_LABEL
    return _policy(
        "packagerevision-origin",
        rules=[_rules(["CREATE", "UPDATE"], REVISIONS)],
        variables=[("latest", _label("object", label)), ("oldLatest", _label("oldObject", label))],
        validations=[
            _validation(
                "request.operation != 'CREATE' || has(object.spec.source)",
                reason="Forbidden",
                message=(
                    "only the porch operator creates PackageRevisions without spec.source (it discovers them "
                    "in git): set exactly one of spec.source.init, cloneFrom, copyFrom or upgrade"
                ),
            ),
            _validation(
                "variables.latest == variables.oldLatest",
                reason="Forbidden",
                message=_reserved_label(label),
            ),
        ],
    )


def resources_draft_only() -> dict[str, Any]:
    label = models.LIFECYCLE_LABEL
    return _policy(
        "packagerevisionresources-draft-only",
        rules=[_rules(["CREATE", "UPDATE"], RESOURCES)],
        variables=[("lifecycle", _label("object", label)), ("oldLifecycle", _label("oldObject", label))],
        validations=[
            _validation(
                "variables.lifecycle == variables.oldLifecycle",
                reason="Forbidden",
                message=_reserved_label(label),
            ),
            _validation(
                "request.operation != 'UPDATE' || object.spec == oldObject.spec || "
                "variables.oldLifecycle == optional.of('Draft')",
                reason="Forbidden",
                message="PackageRevisionResources can only change while their PackageRevision is a Draft",
                message_expression=(
                    "'the resources of ' + object.metadata.name + ' can only change while its "
                    "PackageRevision is a Draft; it is ' + variables.oldLifecycle.orValue('not known yet')"
                ),
            ),
        ],
    )


def operator_owned() -> dict[str, Any]:
    return _policy(
        "operator-owned",
        rules=[
            _rules(["CREATE", "UPDATE"], PACKAGES),
            _rules(["UPDATE"], f"{PACKAGES}/status", f"{REVISIONS}/status", f"{RESOURCES}/status"),
        ],
        variables=[],
        validations=[
            _validation(
                "false",
                reason="Forbidden",
                message=(
                    "Package objects, and the status of revisions, resources and packages, are written by "
                    "the porch operator only"
                ),
                message_expression=(
                    "(has(request.subResource) && request.subResource == 'status' ? 'the status of ' + "
                    "request.kind.kind + ' objects is' : request.kind.kind + ' objects are') + "
                    "' written by the porch operator only; ' + request.userInfo.username + "
                    "' may not change it'"
                ),
            )
        ],
    )


CREATED_BY = "porch.kpt.dev/created-by"
APPROVED_BY = "porch.kpt.dev/approved-by"
_PUBLISHING = (
    "request.operation == 'UPDATE' && object.spec.lifecycle == 'Published' && "
    "oldObject.spec.lifecycle != 'Published'"
)


def _annotation(obj: str, key: str) -> str:
    return f"({obj} == null ? optional.none() : {obj}.metadata.?annotations[?'{key}'])"


def requesters_guard() -> dict[str, Any]:
    """Users may set the requester annotations only to their own name (which is what the mutation does)."""
    validations = [
        _validation(
            f"{_annotation('object', key)} == {_annotation('oldObject', key)} || "
            f"{_annotation('object', key)} == optional.of(request.userInfo.username)",
            reason="Forbidden",
            message=f"the annotation {key} records the requesting user; it cannot be set to another name",
        )
        for key in (CREATED_BY, APPROVED_BY)
    ]
    return _policy(
        "packagerevision-requesters",
        rules=[_rules(["CREATE", "UPDATE"], REVISIONS)],
        variables=[],
        validations=validations,
    )


def requesters_mutation() -> dict[str, Any]:
    """Stamp the creating user on CREATE and the approving user on Proposed -> Published."""

    def stamp(key: str) -> str:
        return f"Object{{metadata: Object.metadata{{annotations: {{'{key}': request.userInfo.username}}}}}}"

    expression = (
        f"request.operation == 'CREATE' ? {stamp(CREATED_BY)} : "
        f"({_PUBLISHING}) ? {stamp(APPROVED_BY)} : Object{{}}"
    )
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {
            "name": "packagerevision-requesters" + POLICY_SUFFIX,
            "labels": {"app.kubernetes.io/part-of": "porch-operator"},
        },
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {"resourceRules": [_rules(["CREATE", "UPDATE"], REVISIONS)]},
            "matchConditions": [{"name": "not-the-operator", "expression": f"!({IS_OPERATOR})"}],
            "reinvocationPolicy": "Never",
            "mutations": [
                {"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": expression}}
            ],
        },
    }


def _mutating_binding(policy: dict[str, Any]) -> dict[str, Any]:
    binding = _binding(policy)
    binding["kind"] = "MutatingAdmissionPolicyBinding"
    del binding["spec"]["validationActions"]
    return binding


def policies() -> list[dict[str, Any]]:
    """Every validating policy, in a fixed order."""
    return [
        approval(),
        published_deletion(),
        revision_origin(),
        resources_draft_only(),
        operator_owned(),
        requesters_guard(),
    ]


def documents() -> list[dict[str, Any]]:
    """The policies, each followed by its binding; the mutating policy last."""
    validating = [doc for policy in policies() for doc in (policy, _binding(policy))]
    mutating = requesters_mutation()
    return [*validating, mutating, _mutating_binding(mutating)]


def operator_identity(*, username: str = DEFAULT_OPERATOR_USERNAME, groups: str = "") -> list[dict[str, Any]]:
    """The operator's namespace and the identity parameter every binding reads."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": IDENTITY_CONFIGMAP,
                "namespace": OPERATOR_NAMESPACE,
                "labels": {"app.kubernetes.io/part-of": "porch-operator"},
            },
            "data": {"username": username, "groups": groups},
        },
    ]
