"""Pickling for dataclasses compiled by mypyc (router/compiled.py).

A compiled dataclass that is frozen, or writes its own ``__init__``, cannot be unpickled attribute by
attribute as CPython does by default; ``__reduce__`` returning :func:`by_fields` rebuilds it through its
constructor instead. Configurations, scenarios and results travel to worker processes (replications).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def by_fields(obj: Any) -> tuple:
    """``__reduce__`` value that rebuilds the dataclass ``obj`` from its fields (keywords)."""
    return construct, (type(obj), tuple((f.name, getattr(obj, f.name)) for f in fields(obj)))


def construct(cls: type, items: tuple) -> Any:
    """Rebuild an object of ``cls`` from (keyword, value) pairs."""
    return cls(**dict(items))
