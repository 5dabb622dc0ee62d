"""Render: run the Kptfile pipelines of a package and its subpackages, as `kpt fn render` does.

Order and data flow follow kpt 1.0.0-beta.56 (the version the parity tests run against):

* every directory with a Kptfile is a package; subpackages are rendered before their parent, depth first, in
  name order; a package's pipeline sees the rendered resources of its subpackages followed by its own;
* the resources of a package are the documents of its `Kptfile`, `*.yaml`, `*.yml` and `*.json` files (files
  of subpackages excluded); every document must be a KRM resource;
* mutators run in order, each on the resources its `selectors`/`exclude` pick (all when none are given), and
  their output replaces what they saw; validators then run on copies and their output is dropped;
* `functionConfig` is a ConfigMap built from `configMap`, or the resource stored at `configPath`;
* items carry kpt's path/index/id/seqindent/package-path annotations on the way in; on the way out they are
  matched to their inputs by id (comments and key order are carried over as kyaml does), placed by their path
  annotation, and the annotations are stripped again;
* files left without resources are deleted; files that are not KRM are never touched.

The first failing function stops the render. The result then keeps the package as it was, unless the root
Kptfile has `kpt.dev/save-on-render-failure: "true"`: then the partially rendered resources are written (files
are not pruned), as newer kpt versions do. kpt 1.0.0-beta.56 writes nothing about the render into the Kptfile,
and neither does this module.

Error contract: an unusable package (invalid path, YAML, Kptfile or non-KRM document, missing configPath)
raises `InvalidSpec`; an unreachable function runner raises `FunctionUnavailable`; everything a function does
wrong (fails, is unknown, writes bad output, uses exec when exec is not allowed) is reported in the returned
`RenderResult` (`ok` False, `error` set, `results` with the exit codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ruamel.yaml.comments import CommentedBase

from porch_operator.engine import documents, resourcelists, resources, selection, trees
from porch_operator.engine import results as fnresults
from porch_operator.engine.gcdefer import collector_paused
from porch_operator.engine.kptfile import Function, Kptfile
from porch_operator.engine.ports import FunctionRuntime, FunctionTarget
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import FunctionFailed, FunctionNotFound, FunctionUnavailable, InvalidSpec

DEFAULT_IMAGE_PREFIX: Final = "ghcr.io/kptdev/krm-functions-catalog/"
"""Prefix for function images named without a registry (`set-labels:v0.2` and the like), as Porch uses."""

KRM_SUFFIXES: Final = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class RenderResult:
    """What a render produced.

    `resources` is the rendered package on success; on failure it is the input package, or the partially
    rendered one when the root Kptfile asks for `kpt.dev/save-on-render-failure`. `results` holds one entry
    per
    function that ran. `error` is '' on success and a sentence naming the failing function otherwise.
    """

    resources: PackageResources
    results: fnresults.FunctionResultList = field(default_factory=fnresults.FunctionResultList)
    error: str = ""
    partial: bool = False

    @property
    def ok(self) -> bool:
        """True when every function succeeded."""
        return not self.error

    @property
    def status(self) -> fnresults.RenderStatus:
        """Porch's `renderStatus` for this render."""
        return fnresults.RenderStatus(result=self.results, error=self.error)


@dataclass(slots=True)
class _Item:
    """A resource in flight: its tree, the file it lives in (relative to its package) and its position."""

    node: Any
    seq_indent: documents.SeqIndent
    package: str
    path: str
    index: int
    source: int | None = None  # id() of the input item a function output came from
    # Whether the tree is known to be writable as a JSON line (`resourcelists.item_text`): set when an input
    # list is built, kept through a fold that adds only values `documents.json_safe` accepts; None: unknown.
    json_safe: bool | None = None
    # The placement annotations it was last sent to a function with (`_PLACEMENT`), when it was.
    sent: tuple[str, ...] | None = None

    @property
    def root_path(self) -> str:
        return resources.join(self.package, self.path)


class _FunctionFailure(Exception):
    """A function failed; carries the resources of the current package as they were before it ran."""

    def __init__(self, message: str, partial: list[_Item]) -> None:
        super().__init__(message)
        self.message = message
        self.partial = partial


def is_krm_file(path: str) -> bool:
    """Whether render reads this file as resources (Kptfile, YAML or JSON)."""
    name = path.rsplit("/", 1)[-1]
    return name == KPTFILE or name.endswith(KRM_SUFFIXES)


async def render(
    package: PackageResources,
    *,
    runtime: FunctionRuntime,
    allow_exec: bool = False,
    image_prefix: str = DEFAULT_IMAGE_PREFIX,
) -> RenderResult:
    """Render `package` (the root package and all its subpackages) through their Kptfile pipelines.

    `allow_exec` permits pipeline entries that name an executable (`exec:`); the operator leaves it off, the
    kpt parity tests turn it on. `image_prefix` is put before images named without a registry.
    """
    if KPTFILE not in package:
        return RenderResult(resources=package)
    renderer = _Renderer(package, runtime=runtime, allow_exec=allow_exec, image_prefix=image_prefix)
    return await renderer.run()


class _Renderer:
    def __init__(
        self, package: PackageResources, *, runtime: FunctionRuntime, allow_exec: bool, image_prefix: str
    ) -> None:
        self.package = package
        self.runtime = runtime
        self.allow_exec = allow_exec
        self.image_prefix = image_prefix
        self.packages = resources.package_dirs(package)
        self.kptfiles = {
            pkg: Kptfile.parse(package[resources.join(pkg, KPTFILE)], path=resources.join(pkg, KPTFILE))
            for pkg in self.packages
        }
        self.children: dict[str, list[str]] = {pkg: [] for pkg in self.packages}
        for pkg in self.packages:
            if pkg:
                self.children[resources.parent_package(pkg, self.packages)].append(pkg)
        self.input_files: set[str] = set()
        # (package, path annotation) of function output already validated -> the path, cleaned
        self.placed: dict[tuple[str, str], str] = {}
        self.results: list[fnresults.FunctionResult] = []

    # -- driving
    # ----------------------------------------------------------------------------------------------

    async def run(self) -> RenderResult:
        # The cyclic collector is paused for each stretch of tree building between awaits (`gcdefer`).
        with collector_paused():
            local = {pkg: self._local_items(pkg) for pkg in self.packages}
        try:
            items = await self._hydrate("", local)
        except _FunctionFailure as failure:
            result_list = fnresults.FunctionResultList(items=tuple(self.results), exit_code=1)
            if self.kptfiles[""].save_on_render_failure:
                with collector_paused():
                    partial = self._write(failure.partial, prune=False)
                return RenderResult(
                    resources=partial, results=result_list, error=failure.message, partial=True
                )
            return RenderResult(resources=self.package, results=result_list, error=failure.message)
        with collector_paused():
            rendered = self._write(items, prune=True)
            del items, local  # the trees go before the collector runs again, which would only walk them
        return RenderResult(
            resources=rendered, results=fnresults.FunctionResultList(items=tuple(self.results))
        )

    async def _hydrate(self, pkg: str, local: dict[str, list[_Item]]) -> list[_Item]:
        gathered: list[_Item] = []
        for child in sorted(self.children[pkg], key=resources.path_sort_key):
            try:
                gathered.extend(await self._hydrate(child, local))
            except _FunctionFailure as failure:
                raise _FunctionFailure(failure.message, gathered + failure.partial + local[pkg]) from None
        gathered.extend(local[pkg])
        return await self._run_pipeline(pkg, gathered)

    # -- reading
    # ----------------------------------------------------------------------------------------------

    def _local_items(self, pkg: str) -> list[_Item]:
        items: list[_Item] = []
        paths = [
            p for p in self.package if is_krm_file(p) and resources.owning_package(p, self.packages) == pkg
        ]
        for path in sorted(paths, key=resources.path_sort_key):
            docs = documents.parse_documents(self.package[path], path=path)
            if docs:
                self.input_files.add(path)
            for index, doc in enumerate(docs):
                where = f"Document {index + 1} of file {path!r}"
                resourcelists.check_krm(doc.node, where)
                if _has_internal(doc.node):
                    # kpt overwrites these on read and strips them on write.
                    resourcelists.strip_internal(doc.node, drop_empty=False)
                resourcelists.ensure_annotations(doc.node)
                items.append(
                    _Item(
                        node=doc.node,
                        seq_indent=doc.seq_indent,
                        package=pkg,
                        path=resources.relative_to(path, pkg),
                        index=index,
                    )
                )
        return items

    # -- running
    # ----------------------------------------------------------------------------------------------

    async def _run_pipeline(self, pkg: str, items: list[_Item]) -> list[_Item]:
        pipeline = self.kptfiles[pkg].pipeline
        if pipeline.is_empty():
            return items
        self._check_exec(pkg, pipeline.mutators, items)
        for function in pipeline.mutators:
            chosen = self._select(items, function)
            output = await self._call(pkg, function, chosen, items, mutate=True)
            if function.selectors or function.exclude:
                items = _merge_selected(items, chosen, output)
            else:
                items = output
        for function in pipeline.validators:
            self._check_exec(pkg, (function,), items)
            chosen = self._select(items, function)
            await self._call(pkg, function, chosen, items, mutate=False)
        return items

    def _check_exec(self, pkg: str, functions: Sequence[Function], items: list[_Item]) -> None:
        for function in functions:
            if function.exec is not None and not self.allow_exec:
                raise _FunctionFailure(
                    f"Package {_pkg_name(pkg)}: function {function.exec!r} is an executable (exec); "
                    "executables "
                    "are not allowed here, use a function image.",
                    items,
                )

    @staticmethod
    def _select(items: list[_Item], function: Function) -> list[_Item]:
        return selection.select(
            items, node_of=lambda item: item.node, selectors=function.selectors, exclude=function.exclude
        )

    def _target(self, function: Function) -> FunctionTarget:
        if function.image is not None:
            image = function.image
            if function.tag and ":" not in image.rsplit("/", 1)[-1]:
                image = f"{image}:{function.tag}"
            if "/" not in image:
                image = self.image_prefix + image
            return FunctionTarget(image=image)
        argv = function.exec_argv()
        return FunctionTarget(exec_path=argv[0], args=tuple(argv[1:]))

    def _function_config(self, pkg: str, function: Function, items: list[_Item]) -> Any:
        if function.config_map is not None:
            return resourcelists.config_map(function.config_map)
        if function.config_path is None:
            return None
        for item in items:
            if item.package == pkg and item.path == function.config_path:
                return item.node
        path = resources.join(pkg, function.config_path)
        if path not in self.package:
            raise InvalidSpec(
                f"Package {_pkg_name(pkg)}: function {function.display_name!r} refers to configPath "
                f"{function.config_path!r}, but the package has no such file."
            )
        docs = documents.parse_documents(self.package[path], path=path)
        if len(docs) != 1:
            raise InvalidSpec(f"Function config file {path!r} must hold exactly one YAML document.")
        return docs[0].node

    async def _call(
        self, pkg: str, function: Function, chosen: list[_Item], context: list[_Item], *, mutate: bool
    ) -> list[_Item]:
        target = self._target(function)
        config = self._function_config(pkg, function, context)
        with collector_paused():
            payload = self._payload(chosen, config)
        result_image, result_exec = (target.image, None) if target.image else (None, function.exec)
        what = f"function {function.display_name!r} of package {_pkg_name(pkg)}"
        try:
            response = await self.runtime.evaluate(target, payload)
        except FunctionFailed as exc:
            self._record(
                result_image, result_exec, exc.exit_code, exc.stderr, fnresults.normalise_results(exc.results)
            )
            raise _FunctionFailure(self._failure_message(what, exc), context) from None
        except FunctionNotFound as exc:
            self._record(result_image, result_exec, 1, "", ())
            raise _FunctionFailure(f"The {what} could not be found: {exc}", context) from None
        except FunctionUnavailable:
            raise
        stderr = response.log.decode("utf-8", "replace")
        try:
            with collector_paused():
                result_items, output = self._read_output(
                    pkg, chosen, response.resource_list, payload, what, mutate=mutate
                )
        except InvalidSpec as exc:
            self._record(result_image, result_exec, 1, stderr, ())
            raise _FunctionFailure(str(exc), context) from None
        self._record(result_image, result_exec, 0, stderr, result_items)
        return output

    def _read_output(
        self, pkg: str, chosen: list[_Item], data: bytes, payload: bytes, what: str, *, mutate: bool
    ) -> tuple[tuple[dict[str, Any], ...], list[_Item]]:
        """The results and (for a mutator) the resources of a function's output; `InvalidSpec` when unusable.

        The parsed output is dropped on return, before the caller lets the garbage collector run again, so
        the collector does not walk what is already garbage.
        """
        raw_items, raw_results = resourcelists.parse_output(
            data, what=what, sent_comments=documents.comment_texts(payload.decode("utf-8"))
        )
        output = self._accept_output(pkg, chosen, raw_items, what) if mutate else []
        return fnresults.normalise_results(raw_results), output

    @staticmethod
    def _payload(chosen: list[_Item], config: Any) -> bytes:
        """The input ResourceList for `chosen`, each item with kpt's annotations (its id: its position)."""
        texts = []
        for number, item in enumerate(chosen):
            annotations = resourcelists.function_input_annotations(
                path=item.path,
                index=item.index,
                item_id=number,
                seq_indent=item.seq_indent,
                package_path="/" + item.package,
            )
            text, item.json_safe = resourcelists.item_text(
                item.node, item.seq_indent, annotations, json_safe=item.json_safe
            )
            texts.append((text, item.json_safe))
            item.sent = tuple(map(annotations.__getitem__, _PLACEMENT))
        return resourcelists.build(texts, config)

    def _record(
        self,
        image: str | None,
        exec_: str | None,
        exit_code: int,
        stderr: str,
        result_items: Sequence[dict[str, Any]],
    ) -> None:
        self.results.append(
            fnresults.FunctionResult(
                exit_code=exit_code, image=image, exec=exec_, stderr=stderr, results=tuple(result_items)
            )
        )

    def _failure_message(self, what: str, exc: FunctionFailed) -> str:
        failed = fnresults.FunctionResult(
            exit_code=exc.exit_code, stderr=exc.stderr, results=fnresults.normalise_results(exc.results)
        )
        messages = [str(r.get("message", "")) for r in failed.error_results if r.get("message")]
        detail = "; ".join(messages[:5])
        if not detail:
            lines = exc.stderr.strip().splitlines()
            detail = lines[-1][:500] if lines else str(exc)
        return f"The {what} failed with exit code {exc.exit_code}: {detail}"

    # -- output
    # -----------------------------------------------------------------------------------------------

    def _accept_output(self, pkg: str, chosen: list[_Item], raw_items: list[Any], what: str) -> list[_Item]:
        accepted: list[_Item] = []
        taken: set[tuple[str, str, int]] = set()
        pending_default: list[tuple[_Item, str]] = []
        for position, raw in enumerate(raw_items):
            problem = resourcelists.krm_problem(raw)
            if problem is not None:
                raise InvalidSpec(f"Item {position + 1} of the output of {what} {problem}")
            annotations = resourcelists.annotations_of(raw)
            source = _source_item(annotations, chosen)
            item = self._place(pkg, raw, annotations, source, what)
            resourcelists.strip_internal(raw, drop_empty=False)
            resourcelists.ensure_annotations(raw)
            if source is not None:
                inserted: list[Any] | None = [] if source.json_safe else None
                item.node = _fold(
                    source.node, raw, commented=isinstance(raw, CommentedBase), inserted=inserted
                )
                item.source = id(source)
                if inserted is not None:
                    item.json_safe = all(map(documents.json_safe, inserted))
            if item.index < 0:
                pending_default.append((item, item.root_path))
            else:
                key = (item.package, item.path, item.index)
                if key in taken:
                    raise InvalidSpec(
                        f"The {what} produced two resources for file {item.root_path!r} "
                        f"at index {item.index}."
                    )
                taken.add(key)
            accepted.append(item)
        for item, _ in pending_default:
            index = 0
            while (item.package, item.path, index) in taken:
                index += 1
            item.index = index
            taken.add((item.package, item.path, index))
        return accepted

    def _place(
        self, pkg: str, node: Any, annotations: dict[Any, Any], source: _Item | None, what: str
    ) -> _Item:
        """Where an output resource goes; `annotations` are its own (`resourcelists.annotations_of`)."""
        if source is not None and tuple(map(annotations.get, _PLACEMENT)) == source.sent:
            # The common case, every placement annotation as it was sent: where its input came from, which
            # is what the reconciliation below works out for it.
            return _Item(
                node=node,
                seq_indent=source.seq_indent,
                package=source.package,
                path=source.path,
                index=source.index,
            )
        internal = resourcelists.annotation_in(annotations, resourcelists.PATH)
        legacy = resourcelists.annotation_in(annotations, resourcelists.LEGACY_PATH)
        path = _pick(internal, legacy, source.path if source else None)
        internal_index = resourcelists.annotation_in(annotations, resourcelists.INDEX)
        legacy_index = resourcelists.annotation_in(annotations, resourcelists.LEGACY_INDEX)
        index_text = _pick(internal_index, legacy_index, str(source.index) if source else None)
        package_path = resourcelists.annotation_in(annotations, resourcelists.PACKAGE_PATH)
        owner = pkg if package_path is None else package_path.strip("/")
        if owner not in self.kptfiles:
            owner = source.package if source else pkg
        if not path:
            path = _default_path(node)
        placed = self.placed.get((owner, path))
        if placed is None:
            cleaned = _clean(path)
            root_path = resources.join(owner, cleaned)
            try:
                resources.validate_path(root_path)
            except InvalidSpec as exc:
                raise InvalidSpec(f"The {what} placed a resource outside the package: {exc}") from exc
            placed = self.placed[(owner, path)] = cleaned
        path = placed
        seq_indent = resourcelists.annotation_in(annotations, resourcelists.SEQ_INDENT)
        indent: documents.SeqIndent = (
            documents.WIDE
            if seq_indent == documents.WIDE
            else (source.seq_indent if source and seq_indent is None else documents.COMPACT)
        )
        index = int(index_text) if index_text is not None and index_text.isdigit() else -1
        return _Item(node=node, seq_indent=indent, package=owner, path=path, index=index)

    # -- writing
    # ----------------------------------------------------------------------------------------------

    def _write(self, items: list[_Item], *, prune: bool) -> PackageResources:
        by_file: dict[str, list[_Item]] = {}
        for item in items:
            by_file.setdefault(item.root_path, []).append(item)
        changes: dict[str, str] = {}
        for path, file_items in by_file.items():
            file_items.sort(key=lambda i: i.index)
            for item in file_items:
                resourcelists.drop_empty_annotations(item.node)
            text = documents.emit_file(path, [documents.Document(i.node, i.seq_indent) for i in file_items])
            if self.package.get(path) != text:
                changes[path] = text
        removed = sorted(self.input_files - set(by_file)) if prune else []
        return self.package.without(removed).with_files(changes)


# The annotations `_Renderer._place` reads to decide where an output resource goes.
_PLACEMENT: Final = (
    resourcelists.PATH,
    resourcelists.LEGACY_PATH,
    resourcelists.INDEX,
    resourcelists.LEGACY_INDEX,
    resourcelists.PACKAGE_PATH,
    resourcelists.SEQ_INDENT,
)


def _has_internal(node: Any) -> bool:
    annotations = node.get("metadata", {}).get("annotations")
    return isinstance(annotations, dict) and any(k in resourcelists.INTERNAL_ANNOTATIONS for k in annotations)


def _pkg_name(pkg: str) -> str:
    return repr(pkg) if pkg else "at the root"


def _pick(internal: str | None, legacy: str | None, original: str | None) -> str | None:
    """kyaml's reconciliation of the current and legacy spelling of an annotation after a function ran."""
    if internal is not None and legacy is not None and internal != legacy:
        if original is not None and internal == original:
            return legacy
        return internal
    return internal if internal is not None else legacy if legacy is not None else original


def _source_item(annotations: dict[Any, Any], chosen: list[_Item]) -> _Item | None:
    """The input item an output resource came from, by the id annotation kpt gave it (its annotations)."""
    for key in (resourcelists.ID, resourcelists.LEGACY_ID):
        value = resourcelists.annotation_in(annotations, key)
        if value is not None and value.isdigit() and int(value) < len(chosen):
            return chosen[int(value)]
    return None


def _fold(old: Any, new: Any, *, commented: bool, inserted: list[Any] | None = None) -> Any:
    """Carry comments and key order from a function's input over to its output, like kyaml.

    `commented` says the output was read with its comments (the function wrote comments of its own). With
    `inserted`, the values of `new` that became part of the result are appended to it (`trees.reconcile`).
    """
    if commented and trees.has_comments(new):
        trees.sync_order(old, new)
        trees.copy_comments(old, new)
        if inserted is not None:
            inserted.append(new)
        return new
    return trees.reconcile(old, new, inserted)


def _default_path(node: Any) -> str:
    """kyaml's file name for a new resource without a path: `<namespace>/<kind>_<name>.yaml`."""
    metadata = node.get("metadata", {})
    name = f"{str(node.get('kind', '')).lower()}_{documents.plain_value(metadata.get('name'))}.yaml"
    namespace = metadata.get("namespace")
    return f"{documents.plain_value(namespace)}/{name}" if namespace else name


def _clean(path: str) -> str:
    """Normalise `a/./b//c` to `a/b/c` (leaving `..` for validation to reject)."""
    absolute = path.startswith("/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    cleaned = "/".join(parts)
    return "/" + cleaned if absolute else cleaned


def _merge_selected(items: list[_Item], chosen: list[_Item], output: list[_Item]) -> list[_Item]:
    """kpt's MergeWithInput: unselected items stay, selected ones are replaced or dropped, new ones last."""
    chosen_ids = {id(item) for item in chosen}
    replaced: dict[int, _Item] = {}
    fresh: list[_Item] = []
    for item in output:
        if item.source is not None and item.source in chosen_ids and item.source not in replaced:
            replaced[item.source] = item
        else:
            fresh.append(item)
    merged = []
    for item in items:
        if id(item) not in chosen_ids:
            merged.append(item)
        elif id(item) in replaced:
            merged.append(replaced[id(item)])
    return merged + fresh
