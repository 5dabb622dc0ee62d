"""Kptfile ↔ PackageRevision metadata: labels, annotations, readiness gates and conditions (Porch §3.8).

The Kptfile is where this metadata lives in git; the PackageRevision mirrors it (`spec.packageMetadata`,
`spec.readinessGates`, `status.packageConditions`). `read` gets it out of a package, `apply` writes a
PackageRevision's values into the root Kptfile:

* labels/annotations: with `merge=False` (spec updates of a Draft) the given map replaces the Kptfile's;
  with `merge=True` (creation, Porch §3.1 step 9) keys are added or overwritten and the others kept;
* readiness gates: the Kptfile lists exactly the given gates (kept ones keep their place, new ones appended);
* conditions: `status.conditions` becomes exactly the given list (empty reason/message dropped);
* None means "leave this part alone". The Kptfile is rewritten only when something changed, so its
  formatting and comments are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from porch_operator.engine.kptfile import Condition, Kptfile
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import InvalidSpec


@dataclass(frozen=True)
class PackageMetadata:
    """The metadata a PackageRevision mirrors from its root Kptfile."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    readiness_gates: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)


def _root_kptfile(package: PackageResources) -> Kptfile:
    if KPTFILE not in package:
        raise InvalidSpec("The package has no Kptfile at its root.")
    return Kptfile.parse(package[KPTFILE], path=KPTFILE)


def read(package: PackageResources) -> PackageMetadata:
    """The metadata in the package's root Kptfile."""
    kptfile = _root_kptfile(package)
    return PackageMetadata(
        labels=kptfile.labels,
        annotations=kptfile.annotations,
        readiness_gates=kptfile.readiness_gates,
        conditions=kptfile.conditions,
    )


def apply(
    package: PackageResources,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    readiness_gates: Sequence[str] | None = None,
    conditions: Sequence[Condition] | None = None,
    merge: bool = False,
) -> PackageResources:
    """Write the given metadata into the root Kptfile; parts left as None are not touched."""
    kptfile = _root_kptfile(package)
    before = kptfile.text()
    if labels is not None:
        kptfile.set_labels({**kptfile.labels, **labels} if merge else dict(labels))
    if annotations is not None:
        kptfile.set_annotations({**kptfile.annotations, **annotations} if merge else dict(annotations))
    if readiness_gates is not None:
        kptfile.set_readiness_gates(list(readiness_gates))
    if conditions is not None:
        kptfile.set_conditions(list(conditions))
    after = kptfile.text()
    if after == before:
        return package
    return package.with_files({KPTFILE: after})
