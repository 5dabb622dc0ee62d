"""Run the shipped Argo CD health checks (config/argocd/argocd-cm-health.yaml) the way Argo CD does.

Argo CD runs a health script in gopher-lua, a Lua 5.1, with only the base, table and package libraries and
a reduced `os` (util/lua/lua.go, unless useOpenLibs is set), the object as the global `obj`, and reads the
table the script returns: `status` must be one of Argo's health codes. `health(obj)` does the same in real
Lua 5.1 (lupa), with the string, math, io, debug and coroutine libraries removed (string methods included),
so a script that would fail in Argo CD fails here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

REPO_ROOT = Path(__file__).resolve().parents[1]
HEALTH_CONFIG = REPO_ROOT / "config" / "argocd" / "argocd-cm-health.yaml"
HEALTH_CODES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

# Run before each script: what Argo CD does not open is not there.
_SANDBOX = """
getmetatable("").__index = nil
string, math, io, debug, coroutine, python = nil, nil, nil, nil, nil, nil
local time, date, clock = os.time, os.date, os.clock
os = {time = time, date = date, clock = clock}
"""


@dataclass(frozen=True)
class Health:
    status: str
    message: str


@cache
def scripts() -> dict[str, str]:
    """`<group>/<Kind>` -> Lua source, from the shipped ConfigMap."""
    data = yaml.safe_load(HEALTH_CONFIG.read_text())["data"]
    prefix = "resource.customizations.health."
    found = {}
    for key, source in data.items():
        assert key.startswith(prefix), key
        group, _, kind = key[len(prefix) :].rpartition("_")
        found[f"{group}/{kind}"] = source
    return found


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def health(obj: dict[str, Any]) -> Health:
    """The health Argo CD would show for `obj` (a dict as the API server returns it)."""
    group = obj["apiVersion"].rpartition("/")[0]
    source = scripts()[f"{group}/{obj['kind']}"]
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True, register_eval=False, register_builtins=False)
    runtime.execute(_SANDBOX)
    runtime.globals()["obj"] = _to_lua(runtime, obj)
    result = runtime.execute(source)
    assert lua51.lua_type(result) == "table", f"the script returned {result!r}, not a table"
    status, message = result["status"], result["message"]
    assert status in HEALTH_CODES, f"invalid health status {status!r}"
    assert message is None or isinstance(message, str), f"message {message!r} is not a string"
    return Health(status=status, message=message or "")
