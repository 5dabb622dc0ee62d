"""Kubernetes Events about the objects the operator works on: transitions (Normal) and failures (Warning).

Events are for people watching `kubectl describe` or `kubectl get events`; they repeat nothing that is not
also in the object's conditions (events are garbage-collected after about an hour). Posting goes through
kopf's poster, which batches and retries in the background and never blocks a reconcile.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import kopf

logger = logging.getLogger(__name__)


def _post(body: dict[str, Any], *, type_: str, reason: str, message: str) -> None:
    try:
        kopf.event(kopf.Body(cast(kopf.RawBody, body)), type=type_, reason=reason, message=message[:1024])
    except LookupError:  # outside kopf's context (reconcilers called directly): nothing to post to
        logger.debug("No event poster; not posting %s for %s.", reason, body.get("metadata", {}).get("name"))


def normal(body: dict[str, Any], reason: str, message: str) -> None:
    _post(body, type_="Normal", reason=reason, message=message)


def warning(body: dict[str, Any], reason: str, message: str) -> None:
    _post(body, type_="Warning", reason=reason, message=message)
