"""Porch semantics for package contents and lifecycle: tasks, render, lifecycle rules.

Pure and async: no kopf, no git, no gRPC, no Kubernetes client. What the engine needs from the outside (a
function runtime) it states as Protocols in `porch_operator.engine.ports`. See docs/engine.md.
"""
