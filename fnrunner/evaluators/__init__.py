"""Function evaluators, tried in a fixed order: builtin, executable, pod."""
