"""kopf entry points and the composition root of the operator.

The only package that imports kopf and talks to the Kubernetes API (raw JSON over aiohttp). Handlers parse
objects with `porch_operator.models`, call the engine and the gitstore, and write status; they stay thin.
"""
