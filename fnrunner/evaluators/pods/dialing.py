"""How the pod evaluator reaches a ready function pod: a pluggable pod → `host:port` resolver.

Production uses the pod IP and the wrapper port (Porch dials a per-pod Service instead; the pod IP needs no
Service and no endpoint wait). Tests, which have no kubelet and no pod network, pass a resolver that maps a
pod to the loopback port where their stand-in started the wrapper.
"""

from __future__ import annotations

from typing import Any, Protocol

from fnrunner.api import limits


class PodDialer(Protocol):
    def address_of(self, pod: dict[str, Any]) -> str | None:
        """The gRPC target of a ready pod, or None while it cannot be reached yet."""
        ...


class PodIPDialer:
    """`<podIP>:<port>` (IPv6 addresses bracketed)."""

    def __init__(self, port: int = limits.WRAPPER_PORT) -> None:
        self.port = port

    def address_of(self, pod: dict[str, Any]) -> str | None:
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            return None
        return f"[{ip}]:{self.port}" if ":" in ip else f"{ip}:{self.port}"
