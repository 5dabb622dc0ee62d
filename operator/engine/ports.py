"""What the engine needs from the outside world, stated as small types and Protocols.

The engine never imports a gRPC client, a subprocess runner or a clock; callers pass in objects that satisfy
these Protocols. Because Protocols are structural, the adapters (the function runner's gRPC client, the test
runtime that runs executables) satisfy them without importing the engine.

Contract of `FunctionRuntime.evaluate`:

* input: which function (`FunctionTarget`: an image reference, or an executable path with arguments) and a
  KRM `ResourceList` as YAML bytes (functionConfig included);
* output on success (the function exited 0): an object with `resource_list` (the output ResourceList, YAML
  or JSON bytes) and `log` (the function's standard error);
* failure is raised, never returned: `FunctionFailed(message, exit_code=, stderr=, results=)` when the
  function ran and failed (`results` is the `results` list of its output ResourceList, if it wrote one),
  `FunctionNotFound` when no evaluator knows the image, `FunctionUnavailable` when the runner cannot be
  reached or the evaluation ran out of time (the caller retries later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FunctionTarget:
    """The function to evaluate: exactly one of `image` and `exec_path` is set.

    `image` is fully resolved (registry prefix applied). `exec_path` and `args` come from a Kptfile `exec`
    entry split into words; relative paths are for the runtime to resolve (kpt resolves them against its
    working directory).
    """

    image: str | None = None
    exec_path: str | None = None
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.image is None) == (self.exec_path is None):
            raise ValueError("A FunctionTarget needs exactly one of image and exec_path.")

    @property
    def display_name(self) -> str:
        """The image, or the executable with its arguments."""
        if self.image is not None:
            return self.image
        return " ".join((self.exec_path or "", *self.args)).strip()


class FunctionOutput(Protocol):
    """What a successful evaluation returns (Porch's `EvaluateFunctionResponse` has the same two fields)."""

    @property
    def resource_list(self) -> bytes:
        """The output ResourceList (YAML or JSON)."""
        ...

    @property
    def log(self) -> bytes:
        """The function's standard error."""
        ...


@dataclass(frozen=True)
class FunctionResponse:
    """A plain `FunctionOutput`, for runtimes that do not have a response object of their own."""

    resource_list: bytes
    log: bytes = b""


class FunctionRuntime(Protocol):
    """Evaluates one KRM function on one ResourceList."""

    async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
        """Run `function` on `resource_list`; see the module docstring for the error contract."""
        ...
