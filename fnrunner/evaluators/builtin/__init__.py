"""Python implementations of common catalogue functions, run in-process (the first evaluator tried).

`catalogue` maps image names to the implementations and is the evaluator; one module per function
(`set_namespace`, `set_labels`, ...) holds a pure `run(resource_list, context)` that mutates a parsed
ResourceList and records results; `objects` and `fieldpaths` hold what several functions share.
"""
