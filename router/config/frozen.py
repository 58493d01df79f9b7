"""A read-only dict for the mapping fields of the configuration's frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping


class FrozenMap(dict):
    """A read-only dict, for mapping fields of frozen dataclasses.

    Unlike ``MappingProxyType`` it pickles, so a Config can be sent to worker processes (simulation
    replications run in a process pool or on a Dask cluster).
    """

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError("this mapping is read-only")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):
        return (FrozenMap, (dict(self),))


def frozen_map(data: Mapping | None = None) -> Mapping:
    """A read-only copy of ``data``, for mapping fields of frozen dataclasses."""
    return FrozenMap(data or {})
