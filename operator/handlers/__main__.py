"""`porch-operator` / `python -m porch_operator.handlers`: run the operator (kopf) with its handlers.

Arguments are kopf's `run` options (`--standalone`, `--peering NAME`, `--priority N`, `--liveness URL`,
`-n NAMESPACE` ...; default: all namespaces); the operator's own settings are `PORCH_*` environment variables
(see `porch_operator.handlers.settings`).
"""

from __future__ import annotations

import sys

from kopf import cli


def main(argv: list[str] | None = None) -> None:
    run_options = list(sys.argv[1:] if argv is None else argv)
    if not any(a in ("-A", "--all-namespaces") or a.startswith(("-n", "--namespace")) for a in run_options):
        run_options.append("--all-namespaces")
    cli.main(["run", "-m", "porch_operator.handlers.registration", *run_options])


if __name__ == "__main__":
    main()
