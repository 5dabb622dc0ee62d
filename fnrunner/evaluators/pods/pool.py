"""The warm pool of function pods: per-image slots, scale-up, waitlists, TTL garbage collection, replacement.

All pool state lives on the event loop (no locks needed: every change happens between awaits). Per image
(porch-behaviour §5.5): a list of slots, each one pod (starting or ready) with an in-flight counter and a
last-activity time. A caller takes the slot with the fewest in-flight calls (ties round-robin); a new pod is
started when there is no slot, or when the best slot already has `max_waitlist` calls and the image has
fewer than `max_pods` slots. Beyond Porch, the number of calls queued for one image is capped
(`max_queue`): the next caller gets `EvaluatorUnavailable` instead of waiting without bound.

The pool watches its own pods (label `fnrunner.porch.kpt.dev/runner=<runner id>`): a pod that becomes ready
releases its waiters; a pod that fails, ends or is deleted loses its slot at once (the next call starts a
replacement). Every `scan_interval` idle slots older than their TTL are removed and their pods deleted.
Per-image parameters come from the FunctionConfig named like the image (podExecutor: `timeToLive`,
`maxParallelExecutions`, `preferredMaxQueueLength`, `templateOverrides`), else from the pool settings.
At start the pool deletes pods left by an earlier run of the same runner id (no adoption) and warms one pod
per FunctionConfig with podExecutor tags.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc
from kubernetes_asyncio.client.exceptions import ApiException

from fnrunner import metrics
from fnrunner.api import limits
from fnrunner.evaluators import functionconfigs, images
from fnrunner.evaluators.evaluation import EvaluationTimeout, EvaluatorUnavailable
from fnrunner.evaluators.pods import templates
from fnrunner.evaluators.pods.dialing import PodDialer
from fnrunner.evaluators.pods.kube import GONE, PodApi

log = logging.getLogger(__name__)

RUNNER_LABEL = "fnrunner.porch.kpt.dev/runner"


@dataclass(frozen=True)
class PoolSettings:
    """Global pool parameters (flags); FunctionConfig podExecutor values override them per image."""

    runner_id: str = "fnrunner"
    pod_ttl: float = 30 * 60
    scan_interval: float = 60.0
    max_pods: int = 1
    max_waitlist: int = 2
    max_queue: int = 64
    pod_ready_timeout: float = 60.0
    warm_up: bool = True
    wrapper_image: str = ""
    pull_secrets: tuple[str, ...] = ()
    # Images under these prefixes never get `pull_secrets` (Porch: public catalogue images).
    public_prefixes: tuple[str, ...] = (limits.LEGACY_IMAGE_PREFIX,)


@dataclass(frozen=True)
class ImageParams:
    ttl: float
    max_pods: int
    max_waitlist: int
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Slot:
    """One pod of an image: `ready` resolves to a channel to its wrapper (or fails)."""

    number: int
    ready: asyncio.Future[grpc.aio.Channel]
    fixed_name: bool = False
    pod_name: str | None = None
    in_flight: int = 0
    last_activity: float = field(default_factory=time.monotonic)


@dataclass
class ImageSlots:
    slots: list[Slot] = field(default_factory=list)
    next_number: int = 0
    last_chosen: int = -1


def _quietly_consume(future: asyncio.Future[Any]) -> None:
    # A slot's failure is reported to its waiters; nobody else needs to retrieve it.
    if not future.cancelled():
        future.exception()


class PodPool:
    """See the module docstring."""

    def __init__(
        self,
        api: PodApi,
        *,
        dialer: PodDialer,
        store: functionconfigs.FunctionConfigStore,
        settings: PoolSettings,
        default_prefix: str = limits.DEFAULT_IMAGE_PREFIX,
        entrypoint_of: Callable[[images.ImageRef], tuple[str, ...] | None] | None = None,
    ) -> None:
        self.api = api
        self.dialer = dialer
        self.store = store
        self.settings = settings
        self.default_prefix = default_prefix
        self.entrypoint_of = entrypoint_of
        self._images: dict[str, ImageSlots] = {}
        self._by_pod: dict[str, Slot] = {}
        self._pods: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._synced = asyncio.Event()

    @property
    def selector(self) -> str:
        return f"{RUNNER_LABEL}={self.settings.runner_id}"

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._template()
        stale, _ = await self.api.list_pods(self.selector)
        for pod in stale:
            await self.api.delete_pod(pod["metadata"]["name"])
        self._spawn(self._watch_forever(), "pod watch")
        self._spawn(self._collect_forever(), "pod garbage collection")
        await asyncio.wait_for(self._synced.wait(), timeout=30)
        if self.settings.warm_up:
            self.warm_up()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for key, image_slots in list(self._images.items()):
            for slot in list(image_slots.slots):
                await self._evict(key, slot, reason="the runner is stopping")
        self._update_gauges()

    def warm_up(self) -> None:
        """Start one pod (fixed name) for each FunctionConfig with podExecutor tags that has none."""
        for config in self.store.all():
            image = config.warm_up_image(default_prefix=self.default_prefix)
            if image is None:
                continue
            ref = images.parse(image, default_prefix=self.default_prefix)
            entrypoint = self.entrypoint_of(ref) if self.entrypoint_of else None
            if entrypoint is None:
                log.warning("Not warming %s: its entrypoint is unknown.", image)
                continue
            if not self._images.get(ref.qualified, ImageSlots()).slots:
                self._new_slot(ref, entrypoint, fixed_name=True)

    # --- leasing ------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lease(
        self,
        ref: images.ImageRef,
        entrypoint: tuple[str, ...],
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> AsyncIterator[grpc.aio.Channel]:
        """A channel to a ready pod of `ref`, held (counted as in flight) for the `async with` body."""
        slot = self._choose(ref, entrypoint)
        slot.in_flight += 1
        slot.last_activity = time.monotonic()
        try:
            try:
                channel = await asyncio.wait_for(asyncio.shield(slot.ready), timeout)
            except TimeoutError as exc:
                raise EvaluationTimeout(f"Function evaluation timed out for {ref.qualified}.") from exc
            yield channel
        finally:
            slot.in_flight -= 1
            slot.last_activity = time.monotonic()
            self._update_gauges()

    def params_for(self, ref: images.ImageRef) -> ImageParams:
        config = self.store.named(ref.name)
        executor = config.pod_executor if config else None
        settings = self.settings
        if executor is None:
            return ImageParams(settings.pod_ttl, max(settings.max_pods, 1), max(settings.max_waitlist, 1))
        return ImageParams(
            ttl=executor.time_to_live
            if executor.time_to_live and executor.time_to_live > 0
            else settings.pod_ttl,
            max_pods=executor.max_parallel_executions or max(settings.max_pods, 1),
            max_waitlist=executor.preferred_max_queue_length or max(settings.max_waitlist, 1),
            overrides=executor.template_overrides,
        )

    def _choose(self, ref: images.ImageRef, entrypoint: tuple[str, ...]) -> Slot:
        params = self.params_for(ref)
        image_slots = self._images.setdefault(ref.qualified, ImageSlots())
        slots = image_slots.slots
        queued = sum(slot.in_flight for slot in slots)
        if queued >= max(self.settings.max_queue, params.max_pods):
            raise EvaluatorUnavailable(
                f"{queued} calls are already queued for {ref.qualified} (the limit); try again later."
            )
        if not slots:
            return self._new_slot(ref, entrypoint)
        start = image_slots.last_chosen + 1
        order = [(start + offset) % len(slots) for offset in range(len(slots))]
        best_index = min(order, key=lambda index: slots[index].in_flight)
        best = slots[best_index]
        if best.in_flight >= params.max_waitlist and len(slots) < params.max_pods:
            return self._new_slot(ref, entrypoint)
        image_slots.last_chosen = best_index
        return best

    def _new_slot(
        self, ref: images.ImageRef, entrypoint: tuple[str, ...], *, fixed_name: bool = False
    ) -> Slot:
        image_slots = self._images.setdefault(ref.qualified, ImageSlots())
        ready: asyncio.Future[grpc.aio.Channel] = asyncio.get_running_loop().create_future()
        ready.add_done_callback(_quietly_consume)
        slot = Slot(number=image_slots.next_number, ready=ready, fixed_name=fixed_name)
        image_slots.next_number += 1
        image_slots.slots.append(slot)
        image_slots.last_chosen = len(image_slots.slots) - 1
        self._spawn(self._start_pod(ref, slot, entrypoint), f"start a pod for {ref.qualified}")
        self._update_gauges()
        return slot

    # --- pods ---------------------------------------------------------------------------------------
    async def _template(self) -> dict[str, Any]:
        template = await self.api.read_template(templates.TEMPLATE_NAME)
        if template is not None:
            return template
        if not self.settings.wrapper_image:
            raise EvaluatorUnavailable(
                f"PodTemplate {templates.TEMPLATE_NAME} is missing and no wrapper image is configured "
                "(--wrapper-image or WRAPPER_SERVER_IMAGE) to create it."
            )
        return await self.api.create_template(templates.default_template(self.settings.wrapper_image))

    def _pull_secrets_for(self, ref: images.ImageRef) -> list[str]:
        if any(ref.qualified.startswith(prefix) for prefix in self.settings.public_prefixes):
            return []
        return list(self.settings.pull_secrets)

    async def _start_pod(self, ref: images.ImageRef, slot: Slot, entrypoint: tuple[str, ...]) -> None:
        try:
            template = await self._template()
            body = templates.function_pod(
                template,
                ref=ref,
                pod_name=templates.pod_id(ref, slot.number),
                entrypoint=list(entrypoint),
                fixed_name=slot.fixed_name,
                overrides=self.params_for(ref).overrides,
                pull_secrets=self._pull_secrets_for(ref),
            )
            body["metadata"].setdefault("labels", {})[RUNNER_LABEL] = self.settings.runner_id
            pod = await self.api.create_pod(body)
            name = str(pod["metadata"]["name"])
            slot.pod_name = name
            self._by_pod[name] = slot
            # Events for the pod may have arrived before its name was known.
            self._on_pod(name, self._pods.get(name, pod))
            await asyncio.wait_for(asyncio.shield(slot.ready), self.settings.pod_ready_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure to start ends the slot; waiters get the reason
            reason = str(exc) if isinstance(exc, EvaluatorUnavailable) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, TimeoutError):
                reason = f"the pod was not ready within {self.settings.pod_ready_timeout:.0f} s"
            await self._evict(ref.qualified, slot, reason=reason)

    def _on_pod(self, name: str, pod: dict[str, Any] | None) -> None:
        """React to the latest state of pod `name` (None: deleted)."""
        slot = self._by_pod.get(name)
        if slot is None:
            return
        key = self._key_of(slot)
        if pod is None or templates.is_dead(pod):
            state = "deleted" if pod is None else "failed or terminating"
            self._spawn(self._evict(key, slot, reason=f"pod {name} was {state}"), f"evict {name}")
        elif templates.is_ready(pod) and not slot.ready.done():
            address = self.dialer.address_of(pod)
            if address is not None:
                slot.ready.set_result(
                    grpc.aio.insecure_channel(address, options=list(limits.CHANNEL_OPTIONS))
                )
                self._update_gauges()

    def _key_of(self, slot: Slot) -> str:
        for key, image_slots in self._images.items():
            if slot in image_slots.slots:
                return key
        return ""

    async def _evict(self, key: str, slot: Slot, *, reason: str) -> None:
        image_slots = self._images.get(key)
        if image_slots is not None and slot in image_slots.slots:
            image_slots.slots.remove(slot)
            if not image_slots.slots:
                del self._images[key]
        if slot.pod_name:
            self._by_pod.pop(slot.pod_name, None)
        if not slot.ready.done():
            slot.ready.set_exception(EvaluatorUnavailable(f"No function pod for {key}: {reason}."))
        elif not slot.ready.exception():
            await slot.ready.result().close()
        self._update_gauges()
        log.info("Removed a pod slot of %s: %s.", key or "an image", reason)
        if slot.pod_name:
            with contextlib.suppress(EvaluatorUnavailable):
                await self.api.delete_pod(slot.pod_name)

    # --- background -----------------------------------------------------------------------------------
    def _spawn(self, work: Awaitable[None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Background task failed: %s.", what)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_forever(self) -> None:
        while True:
            try:
                await self._list_and_watch()
            except ApiException as exc:
                if exc.status != GONE:
                    log.warning("Watching function pods failed (%s); retrying.", exc.status)
                    await asyncio.sleep(1)
            except (aiohttp.ClientError, EvaluatorUnavailable, TimeoutError) as exc:
                log.warning("Watching function pods failed (%s); retrying.", exc)
                await asyncio.sleep(1)

    async def _list_and_watch(self) -> None:
        pods, version = await self.api.list_pods(self.selector)
        self._pods = {pod["metadata"]["name"]: pod for pod in pods}
        for name in list(self._by_pod):
            self._on_pod(name, self._pods.get(name))
        self._synced.set()
        while True:
            # aclosing: when this task is cancelled, the watch (and its HTTP connection) closes now, not
            # whenever the garbage collector finalises the generator.
            async with contextlib.aclosing(self.api.watch_pods(self.selector, version)) as events:
                async for kind, pod in events:
                    name = pod["metadata"]["name"]
                    version = pod["metadata"].get("resourceVersion", version)
                    if kind == "DELETED":
                        self._pods.pop(name, None)
                        self._on_pod(name, None)
                    else:
                        self._pods[name] = pod
                        self._on_pod(name, pod)

    async def _collect_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.scan_interval)
            await self.collect()

    async def collect(self) -> None:
        """Remove idle slots past their TTL and slots whose pod is gone (the periodic scan)."""
        now = time.monotonic()
        for key, image_slots in list(self._images.items()):
            ref = images.parse(key, default_prefix=self.default_prefix)
            ttl = self.params_for(ref).ttl
            for slot in list(image_slots.slots):
                if not slot.ready.done() or slot.in_flight:
                    continue
                if slot.pod_name and slot.pod_name not in self._pods:
                    await self._evict(key, slot, reason=f"pod {slot.pod_name} is gone")
                elif now - slot.last_activity > ttl:
                    await self._evict(key, slot, reason=f"idle for more than {ttl:.0f} s")

    def snapshot(self) -> dict[str, list[tuple[str | None, int, bool]]]:
        """Per image: (pod name, in-flight calls, ready) of each slot, for tests and diagnostics."""
        return {
            key: [
                (slot.pod_name, slot.in_flight, slot.ready.done() and not slot.ready.exception())
                for slot in image_slots.slots
            ]
            for key, image_slots in self._images.items()
        }

    def _update_gauges(self) -> None:
        slots = [slot for image_slots in self._images.values() for slot in image_slots.slots]
        ready = sum(1 for slot in slots if slot.ready.done() and not slot.ready.exception())
        metrics.POOL_PODS.labels("ready").set(ready)
        metrics.POOL_PODS.labels("starting").set(len(slots) - ready)
        metrics.POOL_IMAGES.set(len(self._images))
        metrics.POOL_WAITING.set(sum(slot.in_flight for slot in slots if not slot.ready.done()))
