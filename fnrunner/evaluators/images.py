"""Function image references: split `registry/repo/name:tag@digest`, qualify short names, match prefixes.

Used by every evaluator to decide whether an image is theirs. A short image (`set-namespace:v0.4`, no `/`)
is qualified with the default prefix, as kpt and Porch do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fnrunner.evaluators.evaluation import InvalidInput

_DIGEST = re.compile(r"^[A-Za-z0-9_+.-]+:[0-9a-fA-F]{32,}$")
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference. `repository` is everything before the last `/` (may be empty)."""

    repository: str
    name: str
    tag: str = ""
    digest: str = ""

    @property
    def qualified(self) -> str:
        base = f"{self.repository}/{self.name}" if self.repository else self.name
        return base + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def with_prefix_matching(self, prefixes: Iterable[str]) -> bool:
        """Whether the repository part equals one of `prefixes` (trailing slashes ignored)."""
        wanted = {prefix.rstrip("/") for prefix in prefixes}
        return self.repository.rstrip("/") in wanted


def parse(image: str, *, default_prefix: str) -> ImageRef:
    """Parse `image`, qualifying a short name with `default_prefix`; raises `InvalidInput`."""
    text = image.strip()
    if not text or any(ch.isspace() for ch in text):
        raise InvalidInput(f"The function image {image!r} is not a valid image reference.")
    digest = ""
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidInput(f"The function image {image!r} has an invalid digest.")
    repository, _, last = text.rpartition("/")
    name, _, tag = last.partition(":")
    if not _NAME.match(name):
        raise InvalidInput(f"The function image {image!r} has an invalid name {name!r}.")
    if not repository:
        repository = default_prefix.rstrip("/")
    return ImageRef(repository=repository, name=name, tag=tag, digest=digest)
