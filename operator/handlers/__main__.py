"""`porch-operator` / `python -m porch_operator.handlers`: run the operator (kopf) with its handlers.

Arguments are kopf's `run` options (`--standalone`, `--peering NAME`, `--priority N`, `--liveness URL`,
`-n NAMESPACE` ...; default: all namespaces); the operator's own settings are `PORCH_*` environment variables
(see `porch_operator.handlers.settings`).
"""

from __future__ import annotations

import sys

# kopf imports kubernetes_asyncio's generated models whenever the library is installed (it is: the function
# runner uses it); the operator does not, and they cost about 40 MiB and a second of start-up. An entry of
# None makes `import kubernetes_asyncio` fail, so kopf takes its own code paths (see apiconnection).
sys.modules.setdefault("kubernetes_asyncio", None)  # type: ignore[arg-type]

from kopf import cli  # noqa: E402  (after the line above, on purpose)


def main(argv: list[str] | None = None) -> None:
    run_options = list(sys.argv[1:] if argv is None else argv)
    if not any(a in ("-A", "--all-namespaces") or a.startswith(("-n", "--namespace")) for a in run_options):
        run_options.append("--all-namespaces")
    cli.main(["run", "-m", "porch_operator.handlers.registration", *run_options])


if __name__ == "__main__":
    main()
