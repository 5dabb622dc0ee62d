"""Package-creation tasks (init, clone, copy, upgrade) as pure transforms of package resources."""
