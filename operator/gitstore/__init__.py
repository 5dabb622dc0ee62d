"""Porch-compatible git storage of package revisions (GitPython underneath, async API on top).

Independent of kopf and of the engine.
"""
