"""The init task: a new, empty package (what `kpt pkg init` creates).

Writes a Kptfile (name, `config.kubernetes.io/local-config: "true"`, `info` with description, keywords and
site when given), a README.md and an abstract package-context.yaml. With `subpackage`, the package is created
in that directory of the working set instead of at the root. Fails with `Conflict` when the target directory
already holds a Kptfile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from porch_operator.engine import packagecontext, resources
from porch_operator.engine.kptfile import Kptfile
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import Conflict, InvalidSpec


@dataclass(frozen=True)
class InitTask:
    """What to initialise: the package name, optional info fields and an optional subpackage directory."""

    package_name: str
    description: str = ""
    keywords: tuple[str, ...] = field(default_factory=tuple)
    site: str = ""
    subpackage: str = ""


def default_task(package_name: str) -> InitTask:
    """The init task Porch uses when a revision is created without a source (`"<package> description"`)."""
    return InitTask(package_name=package_name, description=f"{package_name} description")


README_TEMPLATE = """\
# {name}

## Description
{description}

## Usage

### Get the package
`kpt pkg get REPO_URI[.git]/PKG_PATH[@VERSION] {name}`
See https://kpt.dev/reference/cli/pkg/get/ for the details.

### See what the package contains
`kpt pkg tree {name}`
See https://kpt.dev/reference/cli/pkg/tree/ for the details.

### Apply the package to a cluster
```
kpt live init {name}
kpt live apply {name} --reconcile-timeout=2m --output=table
```
See https://kpt.dev/reference/cli/live/ for the details.
"""


def _files(task: InitTask) -> dict[str, str]:
    name = task.subpackage.rsplit("/", 1)[-1] if task.subpackage else task.package_name
    if not name:
        raise InvalidSpec("The init task needs a package name.")
    kptfile = Kptfile.new(name)
    if task.description or task.keywords or task.site:
        kptfile.set_info(
            site=task.site or None,
            description=task.description or None,
            keywords=list(task.keywords) if task.keywords else None,
        )
    return {
        KPTFILE: kptfile.text(),
        "README.md": README_TEMPLATE.format(name=name, description=task.description),
        packagecontext.FILE_NAME: packagecontext.abstract_text(),
    }


async def apply(working_set: PackageResources, task: InitTask) -> PackageResources:
    """Add a newly initialised package to `working_set` (at the root, or in `task.subpackage`)."""
    directory = resources.validate_path(task.subpackage) if task.subpackage else ""
    kptfile_path = resources.join(directory, KPTFILE)
    if kptfile_path in working_set:
        raise Conflict(
            f"Cannot initialise a package in {directory or 'the package root'!r}: a Kptfile exists there."
        )
    files = await asyncio.to_thread(_files, task)
    return working_set.with_files({resources.join(directory, path): text for path, text in files.items()})
