"""The copy task."""

from __future__ import annotations

import pytest

from porch_operator.engine.resources import PackageResources
from porch_operator.engine.tasks import copy
from porch_operator.errors import InvalidSpec


async def test_copy_is_exact() -> None:
    source = PackageResources(
        {"Kptfile": "apiVersion: kpt.dev/v1\nkind: Kptfile  # odd but kept\n", "a.txt": "x"}
    )
    copied = await copy.apply(PackageResources({"stale": "y"}), copy.CopyTask(source=source))
    assert copied == source


async def test_copy_needs_a_package() -> None:
    with pytest.raises(InvalidSpec, match="no Kptfile"):
        await copy.apply(PackageResources(), copy.CopyTask(source=PackageResources({"a.txt": "x"})))
