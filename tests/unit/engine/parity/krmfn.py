"""A small KRM function used by the kpt parity tests; it is run as an executable (`exec:`) by kpt and by us.

It reads a ResourceList from stdin with ruamel.yaml (round trip, so comments and quotes survive as they do in
kyaml-based functions), applies the operation named by `functionConfig` (`data.op` of a ConfigMap, or
`spec.op` of any other object) and writes the list back to stdout. Operations:

* set-label / set-annotation: key, value (on every item);
* add: kind, name, [namespace], [path] - append a ConfigMap-like resource;
* delete: name - drop items with this name;
* move: name, path - change the path annotations of an item;
* fail: message, [code] - write an error result and exit non-zero;
* validate-label: key - error result for each item without the label (exit 1 if any);
* note: message - write an info result and a line on stderr;
* identity - change nothing.
"""

import sys

from ruamel.yaml import YAML

yaml = YAML()
yaml.preserve_quotes = True
yaml.width = 1 << 30
yaml.indent(mapping=2, sequence=2, offset=0)

PATH_KEYS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")


def config(resource_list):
    fn_config = resource_list.get("functionConfig") or {}
    if fn_config.get("kind") == "ConfigMap":
        return dict(fn_config.get("data") or {})
    return dict(fn_config.get("spec") or {})


def annotations(item):
    metadata = item.setdefault("metadata", {})
    if metadata.get("annotations") is None:
        metadata["annotations"] = {}
    return metadata["annotations"]


def main():
    resource_list = yaml.load(sys.stdin)
    items = resource_list.setdefault("items", [])
    args = config(resource_list)
    op = args.get("op", "identity")
    code = 0
    if op == "set-label":
        for item in items:
            metadata = item.setdefault("metadata", {})
            if metadata.get("labels") is None:
                metadata["labels"] = {}
            metadata["labels"][args["key"]] = args["value"]
    elif op == "set-annotation":
        for item in items:
            annotations(item)[args["key"]] = args["value"]
    elif op == "add":
        metadata = {"name": args["name"]}
        if args.get("namespace"):
            metadata["namespace"] = args["namespace"]
        new = {"apiVersion": "v1", "kind": args["kind"], "metadata": metadata, "data": {"created": "by-fn"}}
        if args.get("path"):
            metadata["annotations"] = {key: args["path"] for key in PATH_KEYS}
        items.append(new)
    elif op == "delete":
        resource_list["items"] = [i for i in items if i["metadata"]["name"] != args["name"]]
    elif op == "move":
        for item in items:
            if item["metadata"]["name"] == args["name"]:
                for key in PATH_KEYS:
                    annotations(item)[key] = args["path"]
    elif op == "fail":
        resource_list["results"] = [{"message": args["message"], "severity": "error"}]
        sys.stderr.write("failing on purpose\n")
        code = int(args.get("code", "1"))
    elif op == "validate-label":
        missing = [i for i in items if args["key"] not in (i["metadata"].get("labels") or {})]
        resource_list["results"] = [
            {
                "message": f"missing label {args['key']}",
                "severity": "error",
                "resourceRef": {
                    "apiVersion": i["apiVersion"],
                    "kind": i["kind"],
                    "name": i["metadata"]["name"],
                },
                "field": {"path": "metadata.labels"},
            }
            for i in missing
        ]
        code = 1 if missing else 0
    elif op == "note":
        resource_list["results"] = [
            {"message": args["message"], "severity": "info", "tags": {"kind": "note"}}
        ]
        sys.stderr.write(args["message"] + "\n")
    yaml.dump(resource_list, sys.stdout)
    sys.exit(code)


main()
