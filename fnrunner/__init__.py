"""The KRM function runner: a gRPC sidecar that evaluates functions (builtin, executable, pod).

Shares only `fnrunner.api` (the proto and its limits) with the operator; never imports `porch_operator`.
"""
