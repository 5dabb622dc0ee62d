"""`make crds`: regenerate `crds/` from the pydantic models (the only way `crds/` changes).

Writes one CRD per kind, the admission policies with their bindings, the default operator-identity
parameter and a kustomization listing them; see hack/crdgen/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crdgen import render


def main() -> int:
    directory = Path(__file__).resolve().parent.parent / "crds"
    for path in render.write(directory):
        print(f"wrote {path.relative_to(directory.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
