"""The pod evaluator: function images run in pods from a warm pool, each pod serving calls via its wrapper.

`templates` builds pod manifests (pure), `kube` talks to the Kubernetes API, `pool` owns the per-image pod
slots (scale-up, waitlist, TTL garbage collection, replacement), `dialing` turns a ready pod into a gRPC
address, `entrypoints` finds what the wrapper must run in an image, and `evaluator` ties them together.
"""
