"""Constants both ends of the evaluator contract must agree on: message size, ports, image prefixes.

Imported by the server, the client (and so the operator) and the pod evaluator, so that a limit is changed in
one place. The values follow Porch's function runner (porch-behaviour §5.2-5.3).
"""

from __future__ import annotations

from typing import Final

# Largest gRPC message either side sends or accepts (Porch's --max-request-body-size default, 6 MiB).
MAX_MESSAGE_BYTES: Final = 6 * 1024 * 1024

# The function runner's gRPC port, and the port of the wrapper inside each function pod.
DEFAULT_PORT: Final = 9445
WRAPPER_PORT: Final = 9446

# Short image names (`set-namespace:v0.4`) are qualified with this prefix (kpt's and Porch's default).
DEFAULT_IMAGE_PREFIX: Final = "ghcr.io/kptdev/krm-functions-catalog/"
# The catalogue's former home; images under it are still served by the same functions.
LEGACY_IMAGE_PREFIX: Final = "gcr.io/kpt-fn/"

# Largest gRPC metadata block the client accepts. Failure details travel in trailing metadata
# (see `failures`), so it is raised above gRPC's 8 KiB default; the server keeps its payload below
# `failures.METADATA_BUDGET_BYTES`, well under this.
MAX_METADATA_BYTES: Final = 64 * 1024

# gRPC channel and server options derived from the limits above.
CHANNEL_OPTIONS: Final = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_metadata_size", MAX_METADATA_BYTES),
)
