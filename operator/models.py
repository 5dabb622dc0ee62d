"""pydantic models of every custom resource: the single source of the CRDs in `crds/`.

Leaf module (stdlib and pydantic only). Handlers parse objects with these models once, at the boundary, and
write status from them; `hack/generate_crds.py` turns them into structural CRD schemas. Python names are
snake_case, wire names camelCase (Kubernetes style).
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of every model: camelCase on the wire, unknown fields ignored (rollouts of newer CRDs)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Lifecycle(enum.StrEnum):
    """Where a package revision is in its life; see architecture §3.1 for the transitions."""

    DRAFT = "Draft"
    PROPOSED = "Proposed"
    PUBLISHED = "Published"
    DELETION_PROPOSED = "DeletionProposed"


class UpgradeStrategy(enum.StrEnum):
    """How an upgrade combines the new upstream with the local revision."""

    RESOURCE_MERGE = "resource-merge"
    FAST_FORWARD = "fast-forward"
    FORCE_DELETE_REPLACE = "force-delete-replace"
    COPY_MERGE = "copy-merge"
