"""The runner's command line: flags (Porch's names where Porch has the flag) parsed into `Settings`.

Durations accept Go syntax (`30m`, `1m`, `90s`). Defaults follow Porch's function runner (porch-behaviour
§5.3) except the bind address, which is loopback because the runner is a sidecar of the operator.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from fnrunner.api import limits
from fnrunner.evaluators.functionconfigs import InvalidFunctionConfig, parse_duration

RUNTIMES = ("builtin", "exec", "pod")


@dataclass(frozen=True)
class Settings:
    address: str = "127.0.0.1"
    port: int = limits.DEFAULT_PORT
    functions_dir: Path = Path("./functions")
    function_configs: Path | None = None
    watch_function_configs: bool = True
    kubeconfig: Path | None = None
    pod_namespace: str = "porch-fn-system"
    default_image_prefix: str = limits.DEFAULT_IMAGE_PREFIX
    disabled_runtimes: frozenset[str] = frozenset()
    builtin_functions: tuple[str, ...] | None = None
    pod_ttl: float = 30 * 60
    scan_interval: float = 60.0
    max_pods_per_function: int = 1
    max_waitlist: int = 2
    max_queue_per_function: int = 64
    pod_ready_timeout: float = 60.0
    evaluation_timeout: float = 300.0
    warm_up_pod_cache: bool = True
    wrapper_image: str = ""
    image_pull_secrets: tuple[str, ...] = ()
    enable_private_registries: bool = False
    registry_auth_secret_path: Path = Path("/var/tmp/config-secret/.dockerconfigjson")
    registry_auth_secret_name: str = "auth-secret"
    entrypoints: Path | None = None
    runner_id: str = field(default_factory=lambda: os.environ.get("HOSTNAME") or socket.gethostname())
    metrics_address: str = "127.0.0.1"
    metrics_port: int = 0
    log_level: str = "INFO"

    def enabled(self, runtime: str) -> bool:
        return runtime not in self.disabled_runtimes


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except InvalidFunctionConfig as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _runtimes(text: str) -> frozenset[str]:
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = names - set(RUNTIMES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown runtimes {sorted(unknown)}; known: {', '.join(RUNTIMES)}")
    return names


def _bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="porch-fnrunner", description="The KRM function runner (gRPC).")
    add = p.add_argument
    add("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1: sidecar use)")
    add("--port", type=int, default=limits.DEFAULT_PORT, help="gRPC port (default 9445)")
    add(
        "--functions",
        type=Path,
        default=Path("./functions"),
        help="base dir of relative binaryExecutor paths",
    )
    add("--function-configs", type=Path, help="YAML file of FunctionConfig objects (static configuration)")
    add("--watch-function-configs", type=_bool, default=True, help="watch FunctionConfigs in --pod-namespace")
    add("--kubeconfig", type=Path, help="kubeconfig (default: in-cluster config, then ~/.kube/config)")
    add("--pod-namespace", default="porch-fn-system", help="namespace of function pods and FunctionConfigs")
    add("--default-image-prefix", default=limits.DEFAULT_IMAGE_PREFIX, help="prefix of short image names")
    add("--disable-runtimes", type=_runtimes, default=frozenset(), help="comma list of builtin, exec, pod")
    add("--builtin-functions", help="comma list of builtin functions to serve (default: all)")
    add(
        "--pod-ttl",
        type=_duration,
        default=30 * 60.0,
        help="idle time before a function pod is removed (30m)",
    )
    add("--scan-interval", type=_duration, default=60.0, help="period of the pod garbage collection (1m)")
    add("--max-parallel-pods-per-function", type=int, default=1, help="pods per image (1)")
    add("--max-waitlist-length", type=int, default=2, help="calls per pod before another pod is started (2)")
    add("--max-queue-per-function", type=int, default=64, help="calls queued per image before refusing (64)")
    add("--pod-ready-timeout", type=_duration, default=60.0, help="time for a new pod to become ready (60s)")
    add("--evaluation-timeout", type=_duration, default=300.0, help="longest evaluation (5m)")
    add(
        "--warm-up-pod-cache", type=_bool, default=True, help="start pods for FunctionConfig podExecutor tags"
    )
    add("--wrapper-image", default=os.environ.get("WRAPPER_SERVER_IMAGE", ""), help="image holding fnwrapper")
    add("--image-pull-secret", action="append", default=[], help="pull secret for function pods (repeatable)")
    add(
        "--enable-private-registries", type=_bool, default=False, help="mirror a docker config as pull secret"
    )
    add("--registry-auth-secret-path", type=Path, default=Path("/var/tmp/config-secret/.dockerconfigjson"))
    add("--registry-auth-secret-name", default="auth-secret")
    add("--entrypoints", type=Path, help="YAML map of image -> entrypoint for the pod evaluator")
    add("--runner-id", default=os.environ.get("HOSTNAME") or socket.gethostname(), help="labels our pods")
    add("--metrics-address", default="127.0.0.1", help="address of the Prometheus endpoint")
    add("--metrics-port", type=int, default=0, help="Prometheus /metrics port (0: off)")
    add("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    return p


def parse(argv: list[str] | None = None) -> Settings:
    ns = parser().parse_args(argv)
    builtins = (
        tuple(name.strip() for name in ns.builtin_functions.split(",")) if ns.builtin_functions else None
    )
    return Settings(
        address=ns.address,
        port=ns.port,
        functions_dir=ns.functions,
        function_configs=ns.function_configs,
        watch_function_configs=ns.watch_function_configs,
        kubeconfig=ns.kubeconfig,
        pod_namespace=ns.pod_namespace,
        default_image_prefix=ns.default_image_prefix,
        disabled_runtimes=ns.disable_runtimes,
        builtin_functions=builtins,
        pod_ttl=ns.pod_ttl,
        scan_interval=ns.scan_interval,
        max_pods_per_function=ns.max_parallel_pods_per_function,
        max_waitlist=ns.max_waitlist_length,
        max_queue_per_function=ns.max_queue_per_function,
        pod_ready_timeout=ns.pod_ready_timeout,
        evaluation_timeout=ns.evaluation_timeout,
        warm_up_pod_cache=ns.warm_up_pod_cache,
        wrapper_image=ns.wrapper_image,
        image_pull_secrets=tuple(ns.image_pull_secret),
        enable_private_registries=ns.enable_private_registries,
        registry_auth_secret_path=ns.registry_auth_secret_path,
        registry_auth_secret_name=ns.registry_auth_secret_name,
        entrypoints=ns.entrypoints,
        runner_id=ns.runner_id,
        metrics_address=ns.metrics_address,
        metrics_port=ns.metrics_port,
        log_level=ns.log_level.upper(),
    )
