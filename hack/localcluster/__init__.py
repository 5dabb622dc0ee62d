"""A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) as local processes.

Development and test tooling, not part of the shipped operator. Three callers use it: the pytest session
fixture in `tests/e2e/conftest.py`, `make controlplane-up`/`controlplane-down` (a background supervisor) and
`make run` (foreground). Binaries are built from Go modules by `hack/controlplane/build.sh` into a cache
directory outside the repository (see `binaries`).
"""
