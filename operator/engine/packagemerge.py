"""Package-level upgrade algorithms, as `kpt pkg update` applies them to a local package.

Inputs are three file maps: `local` (the downstream revision with its changes), `original` (the upstream
revision it was cloned from) and `updated` (the new upstream revision). Paths are relative to the package
root. Used by the upgrade task; the strategy semantics are documented on each function.

Common rules (kpt's):

* every YAML resource of all three packages first gets its merge keys (`mergekeys`), so resources match even
  after a downstream rename;
* the root package and each subpackage are handled separately (parents before children); a subpackage
  added upstream is copied, one deleted upstream is removed when the local copy is unchanged, one deleted
  locally stays deleted, one added on both sides is an error;
* Kptfiles are merged three-way on labels, annotations, info, pipeline and inventory (functions without a
  `name` are matched by image or exec, like kpt); everything else stays local.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from porch_operator.engine import documents, merge3, mergekeys, resourcelists, resources, trees
from porch_operator.engine.gcdefer import collector_paused
from porch_operator.engine.kptfile import TOP_LEVEL_ORDER, Kptfile, set_key
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.errors import Conflict, InvalidSpec

YAML_SUFFIXES: Final = (".yaml", ".yml")
_SYNTHETIC_NAME_PREFIX: Final = "_kpt-merge_"


def is_yaml_resource_file(path: str) -> bool:
    """Files the resource merge reads as resources (kyaml's default match; the Kptfile is merged apart)."""
    return path.rsplit("/", 1)[-1].endswith(YAML_SUFFIXES)


def is_krm_file(path: str) -> bool:
    """Files kpt treats as KRM during an update (everything else is copied or kept as a plain file)."""
    return path.rsplit("/", 1)[-1] == KPTFILE or is_yaml_resource_file(path)


class _Source:
    """A package's files with their YAML documents parsed once and kept in step with the text.

    The three packages of an update share a `documents.DocumentCache`: most of their documents are usually
    identical, and each distinct text is then parsed once and its tree shared by every package that has it.
    Shared trees are read-only: whatever changes a document first makes it `private` (a copy), and a
    document still holding its shared tree is written back as the text it was read from. A three-way merge
    into a shared tree copies only the maps and lists it changes; its result shares the rest (`merged`) and
    is copied whole before anything else changes it.
    """

    def __init__(self, files: Mapping[str, str], cache: documents.DocumentCache | None = None) -> None:
        self.files = dict(files)
        self._docs: dict[str, list[documents.Document]] = {}
        self._cache = cache
        self._partly_shared: dict[int, Any] = {}  # id -> tree, for the merge results that share subtrees

    def docs(self, path: str) -> list[documents.Document]:
        if path not in self._docs:
            self._docs[path] = documents.parse_documents(self.files[path], path=path, cache=self._cache)
        return self._docs[path]

    def private(self, node: Any) -> Any:
        """`node` itself when this package may change it, else a copy it may change."""
        if self._cache is not None and self._cache.owns(node):
            return documents.copy_tree(node)
        if self._partly_shared.get(id(node)) is node:
            return documents.copy_tree(node)
        return node

    def merged(self, dest: Any, original: Any, updated: Any) -> Any:
        """`merge3.merge` of the three trees; a shared `dest` is not changed (see the class)."""
        shared = self._cache is not None and (
            self._cache.owns(dest) or self._partly_shared.get(id(dest)) is dest
        )
        node = merge3.merge(dest, original, updated, shared=shared)
        if shared and node is not dest and isinstance(node, dict | list):
            self._partly_shared[id(node)] = node
        return node

    def _merge_facts(self, node: Any) -> mergekeys.MergeFacts:
        if self._cache is None:
            return mergekeys.facts(node)
        return self._cache.derived(node, "merge facts", mergekeys.facts)

    def has_merge_keys(self, node: Any) -> bool:
        return self._merge_facts(node).has_keys

    def identity(self, resource: _Resource) -> tuple[str, ...]:
        """What resource-merge matches `resource` on (see `mergekeys.identity`)."""
        return (*self._merge_facts(resource.node).identity, resource.path)

    def add_merge_keys(self) -> None:
        for path in list(self.files):
            if not is_yaml_resource_file(path):
                continue
            try:
                docs = self.docs(path)
            except InvalidSpec:
                continue  # best effort, as in kpt and Porch
            changed = False
            for doc in docs:
                if not self.has_merge_keys(doc.node):
                    doc.node = mergekeys.add(self.private(doc.node))
                    changed = True
            if changed:
                self.files[path] = documents.emit_documents(docs, self._cache)

    def write(self, path: str, docs: list[documents.Document]) -> None:
        self.files[path] = documents.emit_file(path, docs, self._cache)
        self._docs[path] = docs

    def set_text(self, path: str, text: str) -> None:
        self.files[path] = text
        self._docs.pop(path, None)

    def delete(self, path: str) -> None:
        self.files.pop(path, None)
        self._docs.pop(path, None)


def with_merge_keys(package: Mapping[str, str]) -> dict[str, str]:
    """A copy of `package` whose YAML resources carry merge keys (files that do not parse are left alone)."""
    source = _Source(package)
    source.add_merge_keys()
    return source.files


def _package_dirs(*packages: Mapping[str, str]) -> list[str]:
    found: set[str] = set()
    for package in packages:
        found.update(resources.package_dirs(package))
    found.discard("")
    return sorted(found, key=lambda d: (d.count("/"), d))


def _owned(package: Mapping[str, str], pkg: str) -> dict[str, str]:
    """Files of package directory `pkg` itself (not of its subpackages), keyed by relative path."""
    packages = resources.package_dirs(package) or [""]
    if pkg not in packages:
        packages = [*packages, pkg]
    return {
        resources.relative_to(path, pkg): text
        for path, text in package.items()
        if resources.owning_package(path, packages) == pkg
    }


def _subtree(package: Mapping[str, str], pkg: str) -> dict[str, str]:
    """All files under directory `pkg` (nested subpackages included), keyed by relative path."""
    if not pkg:
        return dict(package)
    prefix = pkg + "/"
    return {path[len(prefix) :]: text for path, text in package.items() if path.startswith(prefix)}


def _exists(package: Mapping[str, str], pkg: str) -> bool:
    return resources.join(pkg, KPTFILE) in package


# ----------------------------------------------------------------------------------------------------
# resource-merge
# ----------------------------------------------------------------------------------------------------


def resource_merge(
    local: Mapping[str, str], original: Mapping[str, str], updated: Mapping[str, str]
) -> dict[str, str]:
    """kpt's resource-merge: three-way merge of resources, Kptfiles and plain files, package by package."""
    # Three packages of trees built in one go (`gcdefer`); they are garbage once `_merged` returns, before
    # the collector runs again.
    with collector_paused():
        return _merged(local, original, updated)


def _merged(
    local: Mapping[str, str], original: Mapping[str, str], updated: Mapping[str, str]
) -> dict[str, str]:
    cache = documents.DocumentCache()
    result, old, new = (_Source(p, cache) for p in (local, original, updated))
    for source in (result, old, new):
        source.add_merge_keys()
    for pkg in ["", *_package_dirs(result.files, old.files, new.files)]:
        _update_package(result, old, new, pkg)
    result.add_merge_keys()
    return result.files


def _update_package(result: _Source, old: _Source, new: _Source, pkg: str) -> None:
    is_root = pkg == ""
    local_exists = is_root or _exists(result.files, pkg)
    updated_exists = is_root or _exists(new.files, pkg)
    original_exists = is_root or _exists(old.files, pkg)
    if not original_exists and local_exists and updated_exists:
        raise Conflict(
            f"Subpackage {pkg!r} was added both upstream and in the local package; it cannot be merged."
        )
    if not original_exists and not local_exists and updated_exists:
        for relative, text in _owned(new.files, pkg).items():
            result.set_text(resources.join(pkg, relative), text)
    elif original_exists and local_exists and not updated_exists:
        if _subtree(result.files, pkg) == _subtree(old.files, pkg):
            for path in [p for p in result.files if p.startswith(pkg + "/")]:
                result.delete(path)
    elif original_exists and local_exists and updated_exists:
        _merge_package(result, old, new, pkg)


def _merge_package(result: _Source, old: _Source, new: _Source, pkg: str) -> None:
    kptfile_path = resources.join(pkg, KPTFILE)
    merged_kptfile = merge_kptfiles(
        result.files.get(kptfile_path),
        old.files.get(kptfile_path),
        new.files.get(kptfile_path),
        update_upstream=pkg != "",
    )
    if merged_kptfile is not None:
        result.set_text(kptfile_path, merged_kptfile)
    local_dirs = [d for d in resources.package_dirs(result.files) if d != pkg]
    _merge_resources(result, old, new, pkg, local_dirs)
    _replace_plain_files(result, old.files, new.files, pkg)


@dataclass
class _Resource:
    node: Any
    seq_indent: documents.SeqIndent
    path: str
    index: int


def _read_resources(source: _Source, pkg: str, excluded_dirs: Iterable[str]) -> list[_Resource]:
    excluded = [d for d in excluded_dirs if d and (not pkg or d.startswith(pkg + "/"))]
    out: list[_Resource] = []
    owned = _owned(source.files, pkg)
    for relative in sorted(owned, key=resources.path_sort_key):
        full = resources.join(pkg, relative)
        if not is_yaml_resource_file(relative) or any(full.startswith(d + "/") for d in excluded):
            continue
        for index, doc in enumerate(source.docs(full)):
            if not isinstance(doc.node, dict):
                raise InvalidSpec(f"Document {index + 1} of file {full!r} is not a KRM resource.")
            if resourcelists.lacks_annotations(doc.node):
                doc.node = source.private(doc.node)
                resourcelists.ensure_annotations(doc.node)
            out.append(_Resource(doc.node, doc.seq_indent, relative, index))
    return out


def _merge_resources(result: _Source, old: _Source, new: _Source, pkg: str, local_dirs: list[str]) -> None:
    sources = {
        "dest": _read_resources(result, pkg, local_dirs),
        "original": _read_resources(old, pkg, local_dirs),
        "updated": _read_resources(new, pkg, local_dirs),
    }
    order: list[tuple[str, ...]] = []
    tuples: dict[tuple[str, ...], dict[str, _Resource]] = {}
    for source, items in sources.items():
        for item in items:
            key = result.identity(item)
            slot = tuples.setdefault(key, {})
            if not slot:
                order.append(key)
            if source in slot:
                raise InvalidSpec(
                    f"Two resources in file {resources.join(pkg, item.path)!r} of the {source} package "
                    "have the "
                    f"same identity {'/'.join(key[:4])}; the packages cannot be merged."
                )
            slot[source] = item
    output: list[_Resource] = []
    for key in order:
        slot = tuples[key]
        merged = _merge_tuple(result, slot.get("dest"), slot.get("original"), slot.get("updated"))
        if merged is not None:
            output.append(merged)
    _write_resources(result, pkg, sources["dest"], output)


def _merge_tuple(
    result: _Source, dest: _Resource | None, original: _Resource | None, updated: _Resource | None
) -> _Resource | None:
    if original is None and updated is None:
        return dest
    if original is None and dest is None:
        return updated
    if updated is None and dest is None:
        return None
    if updated is None:
        assert original is not None and dest is not None
        return None if _same_resource(original.node, dest.node) else dest
    if dest is None:
        return None
    if original is not None and merge3.leaves_unchanged(dest.node, original.node, updated.node):
        return dest
    node = result.merged(dest.node, original.node if original else None, updated.node)
    if node is merge3.CLEAR:
        return None
    dest.node = node
    return dest


def _same_resource(a: Any, b: Any) -> bool:
    if a is b:
        return True  # one shared tree
    return documents.emit_document(_without_empty_annotations(a)) == documents.emit_document(
        _without_empty_annotations(b)
    )


def _without_empty_annotations(node: Any) -> Any:
    copy = trees.clone(node)
    resourcelists.drop_empty_annotations(copy)
    return copy


def _write_resources(result: _Source, pkg: str, read: list[_Resource], output: list[_Resource]) -> None:
    by_file: dict[str, list[_Resource]] = {}
    for item in output:
        by_file.setdefault(item.path, []).append(item)
    for relative in {r.path for r in read} - set(by_file):
        result.delete(resources.join(pkg, relative))
    for relative, items in by_file.items():
        items.sort(key=lambda r: r.index)
        for item in items:
            if resourcelists.has_empty_annotations(item.node):
                item.node = result.private(item.node)
                resourcelists.drop_empty_annotations(item.node)
        result.write(resources.join(pkg, relative), [documents.Document(r.node, r.seq_indent) for r in items])


def _replace_plain_files(
    result: _Source, original: Mapping[str, str], updated: Mapping[str, str], pkg: str
) -> None:
    local_files = {p: t for p, t in _owned(result.files, pkg).items() if not is_krm_file(p)}
    original_files = {p: t for p, t in _owned(original, pkg).items() if not is_krm_file(p)}
    updated_files = {p: t for p, t in _owned(updated, pkg).items() if not is_krm_file(p)}
    modified = {p for p, t in local_files.items() if original_files.get(p) != t}
    for path in local_files:
        if path not in modified and path not in updated_files:
            result.delete(resources.join(pkg, path))
    for path, text in updated_files.items():
        if path not in modified:
            result.set_text(resources.join(pkg, path), text)


# ----------------------------------------------------------------------------------------------------
# Kptfile merge
# ----------------------------------------------------------------------------------------------------

_MERGED_SECTIONS: Final = ("info", "pipeline", "inventory")


def merge_kptfiles(
    local: str | None, original: str | None, updated: str | None, *, update_upstream: bool
) -> str | None:
    """Three-way merge of Kptfile texts (kpt's UpdateKptfile), keeping the local file's formatting.

    Returns the merged text, or None when there is no local Kptfile and nothing to take from upstream.
    """
    if local is None and updated is None:
        return None
    local_kf = Kptfile.parse(local, path=KPTFILE) if local is not None else None
    original_kf = Kptfile.parse(original, path=KPTFILE) if original is not None else None
    updated_kf = Kptfile.parse(updated, path=KPTFILE) if updated is not None else None
    if local_kf is None:
        assert updated_kf is not None
        return updated_kf.text()
    kptfiles = [kf for kf in (local_kf, original_kf, updated_kf) if kf is not None]
    synthetic = _should_add_function_keys(kptfiles)
    trees_ = [
        _sections(kf, synthetic=synthetic) if kf is not None else None
        for kf in (local_kf, original_kf, updated_kf)
    ]
    merged = merge3.merge(*trees_)
    if merged is merge3.CLEAR:
        merged = {}
    _apply_sections(local_kf, merged)
    if synthetic:
        _drop_synthetic_names(local_kf.node.get("pipeline"))
    if update_upstream and updated_kf is not None:
        for section in ("upstream", "upstreamLock"):
            value = updated_kf.node.get(section)
            if value is not None:
                set_key(local_kf.node, section, value, TOP_LEVEL_ORDER)
    return local_kf.text()


def _function_key(function: Any) -> str:
    if function.get("exec"):
        return str(function["exec"])
    return str(function.get("image") or "").split(":", 1)[0]


def _should_add_function_keys(kptfiles: list[Kptfile]) -> bool:
    """kpt matches unnamed functions by image (without tag) or exec when no function is named anywhere."""
    for kptfile in kptfiles:
        pipeline = kptfile.node.get("pipeline")
        if not isinstance(pipeline, dict):
            continue
        for stage in ("mutators", "validators"):
            keys: set[str] = set()
            for function in pipeline.get(stage) or []:
                if function.get("name"):
                    return False
                key = _function_key(function)
                if key in keys:
                    return False
                keys.add(key)
    return True


def _sections(kptfile: Kptfile, *, synthetic: bool) -> dict[str, Any]:
    """The parts of a Kptfile that kpt merges, as one tree whose subtrees are the Kptfile's own nodes."""
    node = kptfile.node
    tree: dict[str, Any] = {}
    metadata = node.get("metadata")
    if isinstance(metadata, dict):
        meta: dict[str, Any] = {}
        for key in ("labels", "annotations"):
            if isinstance(metadata.get(key), dict) and metadata[key]:
                meta[key] = metadata[key]
        if meta:
            tree["metadata"] = meta
    for key in _MERGED_SECTIONS:
        value = node.get(key)
        if isinstance(value, dict) and value:
            tree[key] = value
    if synthetic and isinstance(tree.get("pipeline"), dict):
        for stage in ("mutators", "validators"):
            for function in tree["pipeline"].get(stage) or []:
                if not function.get("name"):
                    function["name"] = _SYNTHETIC_NAME_PREFIX + _function_key(function)
    return tree


def _apply_sections(kptfile: Kptfile, merged: Any) -> None:
    node = kptfile.node
    metadata_tree = merged.get("metadata") if isinstance(merged, dict) else None
    metadata = node.get("metadata")
    if isinstance(metadata, dict):
        for key in ("labels", "annotations"):
            value = metadata_tree.get(key) if isinstance(metadata_tree, dict) else None
            if value:
                set_key(metadata, key, value, ("name", "namespace", "labels", "annotations"))
            elif key in metadata:
                trees.delete_key(metadata, key)
    for key in _MERGED_SECTIONS:
        value = merged.get(key) if isinstance(merged, dict) else None
        if value:
            set_key(node, key, value, TOP_LEVEL_ORDER)
        elif key in node:
            trees.delete_key(node, key)


def _drop_synthetic_names(pipeline: Any) -> None:
    if not isinstance(pipeline, dict):
        return
    for stage in ("mutators", "validators"):
        for function in pipeline.get(stage) or []:
            name = function.get("name")
            if isinstance(name, str) and name.startswith(_SYNTHETIC_NAME_PREFIX):
                trees.delete_key(function, "name")


# ----------------------------------------------------------------------------------------------------
# fast-forward, force-delete-replace, copy-merge
# ----------------------------------------------------------------------------------------------------


def _comparable_kptfile(text: str | None) -> Any:
    if text is None:
        return None
    kptfile = Kptfile.parse(text, path=KPTFILE)
    node = trees.to_plain(kptfile.node)
    for key in ("upstream", "upstreamLock", "status"):
        node.pop(key, None)
    if isinstance(node.get("metadata"), dict):
        node["metadata"].pop("name", None)
    return node


def local_changes(local: Mapping[str, str], original: Mapping[str, str]) -> list[str]:
    """Files in which the local package differs from the original upstream.

    The root Kptfile is compared without its name, upstream, upstreamLock and status (clone sets the first
    three, render the last); every other file must be identical.
    """
    local, original = with_merge_keys(local), with_merge_keys(original)
    changed = []
    for path in sorted(set(local) | set(original)):
        if path == KPTFILE:
            if _comparable_kptfile(local.get(path)) != _comparable_kptfile(original.get(path)):
                changed.append(path)
        elif local.get(path) != original.get(path):
            changed.append(path)
    return changed


def force_delete_replace(local: Mapping[str, str], updated: Mapping[str, str]) -> dict[str, str]:
    """Replace everything with the new upstream, keeping only the local root Kptfile."""
    result = {path: text for path, text in updated.items() if path != KPTFILE}
    if KPTFILE in local:
        result[KPTFILE] = local[KPTFILE]
    elif KPTFILE in updated:
        result[KPTFILE] = updated[KPTFILE]
    return with_merge_keys(result)


def fast_forward(
    local: Mapping[str, str], original: Mapping[str, str], updated: Mapping[str, str]
) -> dict[str, str]:
    """force-delete-replace, but only when the local package has no changes of its own."""
    changed = local_changes(local, original)
    if changed:
        raise Conflict(
            f"The local package has been modified ({', '.join(changed[:10])}"
            f"{', ...' if len(changed) > 10 else ''}); fast-forward needs an unmodified package, use another "
            "upgrade strategy."
        )
    result = force_delete_replace(local, updated)
    if KPTFILE in result:
        kptfile = Kptfile.parse(result[KPTFILE], path=KPTFILE)
        kptfile.clear_render_status()
        result[KPTFILE] = kptfile.text()
    return result


def copy_merge(
    local: Mapping[str, str], original: Mapping[str, str], updated: Mapping[str, str]
) -> dict[str, str]:
    """Merge the Kptfile, copy every upstream file over the local one, drop files upstream removed."""
    result = dict(local)
    merged_kptfile = merge_kptfiles(
        local.get(KPTFILE), original.get(KPTFILE), updated.get(KPTFILE), update_upstream=True
    )
    for path, text in updated.items():
        if path != KPTFILE:
            result[path] = text
    for path in original:
        if path not in updated and path != KPTFILE:
            result.pop(path, None)
    if merged_kptfile is not None:
        result[KPTFILE] = merged_kptfile
    return with_merge_keys(result)


def to_resources(files: Mapping[str, str]) -> PackageResources:
    """The merged files as a validated PackageResources."""
    return PackageResources(files)
