"""Composition root of the sidecar: builds the evaluators from `Settings`, starts the server, runs until told.

Order of the chain (fixed): builtin, exec, pod, each left out when disabled. The exec and pod evaluators
share one FunctionConfigStore, filled from `--function-configs` and, when a Kubernetes client is available
and `--watch-function-configs` is on, from the FunctionConfigs of `--pod-namespace`. The pod runtime needs
the Kubernetes API; without a usable kubeconfig it is an error to leave it enabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from kubernetes_asyncio import client, config
from prometheus_client import start_http_server

from fnrunner import server
from fnrunner.configwatch import FunctionConfigWatcher
from fnrunner.evaluators import functionconfigs
from fnrunner.evaluators.builtin.catalogue import BuiltinEvaluator
from fnrunner.evaluators.chain import EvaluatorChain
from fnrunner.evaluators.evaluation import Evaluator
from fnrunner.evaluators.executable import ExecutableEvaluator
from fnrunner.evaluators.pods import dialing, entrypoints
from fnrunner.evaluators.pods.evaluator import PodEvaluator
from fnrunner.evaluators.pods.kube import PodApi
from fnrunner.evaluators.pods.pool import PodPool, PoolSettings
from fnrunner.settings import Settings

log = logging.getLogger(__name__)


def _label_value(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63].strip("-._")
    return cleaned or "fnrunner"


async def kube_client(settings: Settings) -> client.ApiClient:
    """A Kubernetes client from --kubeconfig, else in-cluster, else the default kubeconfig."""
    if settings.kubeconfig is not None:
        return await config.new_client_from_config(config_file=str(settings.kubeconfig))
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        return client.ApiClient()
    except config.ConfigException:
        return await config.new_client_from_config()


@dataclass
class Runner:
    """A started runner: the server, the pod pool (if any) and the background tasks."""

    running: server.RunningServer
    store: functionconfigs.FunctionConfigStore
    pool: PodPool | None = None
    api_client: client.ApiClient | None = None
    builtin: BuiltinEvaluator | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        await self.running.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.pool is not None:
            await self.pool.close()
        if self.api_client is not None:
            await self.api_client.close()
        if self.builtin is not None:
            self.builtin.close()


async def _pod_evaluator(
    settings: Settings, api_client: client.ApiClient, store: functionconfigs.FunctionConfigStore
) -> tuple[PodEvaluator, PodPool]:
    api = PodApi(api_client, settings.pod_namespace)
    pull_secrets = list(settings.image_pull_secrets)
    if settings.enable_private_registries:
        await api.ensure_pull_secret(
            settings.registry_auth_secret_name, settings.registry_auth_secret_path.read_bytes()
        )
        pull_secrets.append(settings.registry_auth_secret_name)
    static = entrypoints.load_static(settings.entrypoints) if settings.entrypoints else None
    resolver = entrypoints.ConfiguredEntrypoints(
        store, static=static, default_prefix=settings.default_image_prefix
    )
    pool = PodPool(
        api,
        dialer=dialing.PodIPDialer(),
        store=store,
        settings=PoolSettings(
            runner_id=_label_value(settings.runner_id),
            pod_ttl=settings.pod_ttl,
            scan_interval=settings.scan_interval,
            max_pods=settings.max_pods_per_function,
            max_waitlist=settings.max_waitlist,
            max_queue=settings.max_queue_per_function,
            pod_ready_timeout=settings.pod_ready_timeout,
            warm_up=settings.warm_up_pod_cache,
            wrapper_image=settings.wrapper_image,
            pull_secrets=tuple(pull_secrets),
        ),
        default_prefix=settings.default_image_prefix,
        entrypoint_of=resolver.entrypoint,
    )
    return PodEvaluator(pool, entrypoints=resolver, default_prefix=settings.default_image_prefix), pool


async def start(settings: Settings) -> Runner:
    """Build everything from `settings` and start serving."""
    static = functionconfigs.load_file(settings.function_configs) if settings.function_configs else []
    store = functionconfigs.FunctionConfigStore(static)
    evaluators: list[Evaluator] = []
    builtin = None
    if settings.enabled("builtin"):
        builtin = BuiltinEvaluator(
            default_prefix=settings.default_image_prefix, enabled=settings.builtin_functions
        )
        evaluators.append(builtin)
    if settings.enabled("exec"):
        evaluators.append(
            ExecutableEvaluator(
                store=store,
                functions_dir=settings.functions_dir,
                default_prefix=settings.default_image_prefix,
            )
        )
    api_client = None
    pool = None
    tasks: list[asyncio.Task[None]] = []
    wants_kube = settings.enabled("pod") or settings.watch_function_configs
    if wants_kube:
        try:
            api_client = await kube_client(settings)
        except config.ConfigException as exc:
            if settings.enabled("pod"):
                raise SystemExit(f"The pod runtime needs the Kubernetes API: {exc}") from exc
            log.warning("No Kubernetes configuration (%s); FunctionConfigs come from files only.", exc)
    if api_client is not None and settings.watch_function_configs:
        watcher = FunctionConfigWatcher(
            api_client, namespace=settings.pod_namespace, store=store, static=static
        )
        tasks.append(asyncio.ensure_future(watcher.run()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher.synced.wait(), timeout=10)
    if settings.enabled("pod") and api_client is not None:
        pod_evaluator, pool = await _pod_evaluator(settings, api_client, store)
        await pool.start()
        evaluators.append(pod_evaluator)
    running = await server.start(
        EvaluatorChain(evaluators),
        address=settings.address,
        port=settings.port,
        evaluation_timeout=settings.evaluation_timeout,
    )
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_address)
    return Runner(
        running=running, store=store, pool=pool, api_client=api_client, builtin=builtin, tasks=tasks
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Runner]:
    runner = await start(settings)
    try:
        yield runner
    finally:
        await runner.stop()
