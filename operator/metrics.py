"""Prometheus metric objects of the operator, declared once (leaf module).

Names follow `porch_<subsystem>_<thing>_<unit>`; label values come from small fixed sets (kind, result,
operation), never from object names.
"""

from __future__ import annotations
