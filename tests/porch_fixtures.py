"""Where the git repositories written by Porch (the interoperability fixtures) are.

They are test data from Porch (Apache-2.0) kept outside this repository, in the `shared/fixtures` folder next
to the checkout (`../shared/fixtures`), so that no third-party binaries are committed here;
`PORCH_FIXTURES_DIR` points elsewhere. What each fixture exercises is described in tests/PORCH_FIXTURES.md.
A missing folder fails the tests that need it with a message saying where it was looked for: these tests are
never skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    candidates = [Path(p) for p in [os.environ.get("PORCH_FIXTURES_DIR", "")] if p]
    candidates += [REPO_ROOT.parent / "shared" / "fixtures", Path("/work/shared/fixtures")]
    for candidate in candidates:
        if (candidate / "porch-git" / "simple-repository.tar").is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"The Porch git fixtures were not found (looked in: {looked}); set PORCH_FIXTURES_DIR."
    )


def fixture(name: str) -> Path:
    """`<name>.tar` under porch-git/, or a file at the top (test-blueprints.bundle)."""
    base = fixtures_dir()
    for path in (base / "porch-git" / f"{name}.tar", base / name):
        if path.is_file():
            return path
    raise FileNotFoundError(f"No Porch fixture named {name!r} in {base}.")
