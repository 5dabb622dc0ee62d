"""How a failed function's details travel from the runner to its caller: gRPC trailing metadata.

Porch answers a failing function with status INTERNAL and a message that quotes stderr; its callers parse
nothing more. We keep that (so Porch's porch-server can call us and shows the same kind of message) and add,
as trailing metadata on the same status, what a caller needs to build a kpt `Result` without parsing text:

| key              | value                                                                              |
|------------------|------------------------------------------------------------------------------------|
| `fn-exit-code`   | the function's exit status, decimal                                                |
| `fn-stderr-bin`  | the tail of its stderr, at most `STDERR_TAIL_BYTES` bytes                          |
| `fn-results-bin` | its structured `results` (from its output ResourceList) as a JSON list, whole items |
|                  | only, at most `RESULTS_BYTES` bytes                                                |
| `fn-truncated`   | present (`"true"`) when stderr or results were shortened to fit                    |

`-bin` keys carry bytes (gRPC base64-encodes them on the wire). Both the runner's server and the pod
wrapper (Go, fnrunner/wrapper/main.go, which mirrors these names) write them; `fnrunner.client` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

EXIT_CODE_KEY: Final = "fn-exit-code"
STDERR_KEY: Final = "fn-stderr-bin"
RESULTS_KEY: Final = "fn-results-bin"
TRUNCATED_KEY: Final = "fn-truncated"

STDERR_TAIL_BYTES: Final = 4096
RESULTS_BYTES: Final = 4096
# Upper bound of what `encode` produces, before base64 (4/3 of it on the wire): stays under gRPC's 8 KiB
# default header budget for Porch's callers as best it can, and well under our client's MAX_METADATA_BYTES.
METADATA_BUDGET_BYTES: Final = STDERR_TAIL_BYTES + RESULTS_BYTES + 64


@dataclass(frozen=True)
class FailureDetails:
    """What a caller learns about a function that ran and failed."""

    exit_code: int
    stderr: bytes = b""
    results: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


def _fit_results(results: Sequence[dict[str, Any]], limit: int) -> tuple[bytes, bool]:
    """The longest prefix of `results` whose JSON fits in `limit` bytes, and whether items were dropped."""
    kept: list[dict[str, Any]] = []
    encoded = b"[]"
    for item in results:
        candidate = json.dumps([*kept, item], separators=(",", ":"), default=str).encode()
        if len(candidate) > limit:
            return encoded, True
        kept.append(item)
        encoded = candidate
    return encoded, False


def encode(details: FailureDetails) -> tuple[tuple[str, str | bytes], ...]:
    """The trailing metadata for a failed evaluation."""
    stderr = details.stderr[-STDERR_TAIL_BYTES:]
    results, dropped = _fit_results(details.results, RESULTS_BYTES)
    metadata: list[tuple[str, str | bytes]] = [
        (EXIT_CODE_KEY, str(details.exit_code)),
        (STDERR_KEY, stderr),
        (RESULTS_KEY, results),
    ]
    if details.truncated or dropped or len(stderr) < len(details.stderr):
        metadata.append((TRUNCATED_KEY, "true"))
    return tuple(metadata)


def decode(metadata: Iterable[tuple[str, str | bytes]] | None) -> FailureDetails | None:
    """Failure details from trailing metadata, or None when the status carries none."""
    values = {key: value for key, value in metadata or ()}
    raw_code = values.get(EXIT_CODE_KEY)
    if raw_code is None:
        return None
    code_text = raw_code.decode() if isinstance(raw_code, bytes) else raw_code
    try:
        exit_code = int(code_text)
    except ValueError:
        exit_code = 1
    stderr = values.get(STDERR_KEY, b"")
    raw_results = values.get(RESULTS_KEY, b"[]")
    try:
        parsed = json.loads(raw_results)
    except ValueError:
        parsed = []
    results = [item for item in parsed if isinstance(item, dict)] if isinstance(parsed, list) else []
    return FailureDetails(
        exit_code=exit_code,
        stderr=stderr if isinstance(stderr, bytes) else stderr.encode(),
        results=results,
        truncated=TRUNCATED_KEY in values,
    )
