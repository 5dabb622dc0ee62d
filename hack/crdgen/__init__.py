"""Generator of `crds/`: structural CRD schemas from the pydantic models, plus the admission policies.

`structural` turns pydantic's JSON schema into a Kubernetes structural schema, `crds` assembles one
CustomResourceDefinition per kind from its model and `CRDInfo`, `policies` builds the
ValidatingAdmissionPolicies, their bindings and the operator-identity parameter, and `render` writes them all
as YAML. `hack/generate_crds.py` (`make crds`) is the command; the drift test calls `render.render_all()` and
compares with the files.
"""
