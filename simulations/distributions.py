"""Handle-time and patience distributions: what a scenario says, sampled with a numpy ``Generator``.

In YAML a distribution is a mapping with ``distribution`` and its parameters, or a bare number (fixed)::

    handle: {distribution: lognormal, mean: 240, sd: 120}
    patience: {distribution: exponential, mean: 90}
    handle: {distribution: gamma, mean: 300, shape: 2}
    handle: {distribution: empirical, values: [120, 180, 600]}
    handle: {distribution: empirical, file: handle_times.csv}   # one column of seconds, relative to the file
    handle: 180                                                  # fixed

Lognormal and gamma take the mean and standard deviation of the times themselves (not of their log), as
planners state them; gamma takes ``shape`` instead of ``sd`` if preferred.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from yaml.nodes import MappingNode, Node

from router.config._yamlnodes import Reader, at

KEYS = ("distribution", "mean", "sd", "shape", "values", "file")
SECONDS = "a number of seconds"


class Kind(StrEnum):
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    GAMMA = "gamma"
    EMPIRICAL = "empirical"
    FIXED = "fixed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """A distribution of positive durations in seconds."""

    kind: Kind
    mean: float = 0.0  # the mean of the times (all kinds but empirical, where it is the data's mean)
    sd: float = 0.0  # lognormal and gamma
    values: tuple[float, ...] = ()  # empirical

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws, in seconds."""
        if self.kind is Kind.EXPONENTIAL:
            return rng.exponential(self.mean, n)
        if self.kind is Kind.LOGNORMAL:
            sigma2 = math.log1p((self.sd / self.mean) ** 2)
            return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), n)
        if self.kind is Kind.GAMMA:
            shape = (self.mean / self.sd) ** 2
            return rng.gamma(shape, self.mean / shape, n)
        if self.kind is Kind.EMPIRICAL:
            return rng.choice(np.asarray(self.values, dtype=float), n)
        return np.full(n, self.mean)

    @property
    def expected(self) -> float:
        """The mean, in seconds (for Erlang sizing)."""
        return float(np.mean(self.values)) if self.kind is Kind.EMPIRICAL else self.mean


def exponential(mean: float) -> Distribution:
    return Distribution(kind=Kind.EXPONENTIAL, mean=mean)


def read_distribution(r: Reader, node: Node, path: str, base: Path | None = None) -> Distribution | None:
    """A distribution from YAML (problems recorded on ``r``); ``base`` resolves an empirical ``file``."""
    if not isinstance(node, MappingNode):
        value = r.number(node, path, above=0, what=f"{SECONDS} (fixed) or a mapping with 'distribution'")
        return None if value is None else Distribution(kind=Kind.FIXED, mean=value)
    f = r.fields(node, path, KEYS, required=("distribution",))
    if f is None:
        return None
    kind = f.choice("distribution", Kind)
    if kind is None:
        return None
    allowed = {
        Kind.EXPONENTIAL: ("mean",),
        Kind.FIXED: ("mean",),
        Kind.LOGNORMAL: ("mean", "sd"),
        Kind.GAMMA: ("mean", "sd", "shape"),
        Kind.EMPIRICAL: ("values", "file"),
    }[kind]
    for key in KEYS[1:]:
        if key in f and key not in allowed:
            r.problem(f.key_node(key), f.at(key), f"'{key}' does not apply to {kind} (it takes {', '.join(allowed)})")
    if kind is Kind.EMPIRICAL:
        return _empirical(r, f, path, base)
    if "mean" not in f:
        r.problem(node, path, f"missing required key 'mean' for {kind}")
        return None
    mean = f.number("mean", above=0, what=SECONDS)
    if mean is None:
        return None
    if kind in (Kind.EXPONENTIAL, Kind.FIXED):
        return Distribution(kind=kind, mean=mean)
    if kind is Kind.GAMMA and "shape" in f:
        if "sd" in f:
            r.problem(f.key_node("shape"), f.at("shape"), "give either 'sd' or 'shape', not both")
            return None
        shape = f.number("shape", above=0, what="a positive shape")
        return None if shape is None else Distribution(kind=kind, mean=mean, sd=mean / math.sqrt(shape))
    if "sd" not in f:
        needs = "'sd' or 'shape'" if kind is Kind.GAMMA else "'sd'"
        r.problem(node, path, f"missing required key {needs} for {kind}")
        return None
    sd = f.number("sd", above=0, what=SECONDS)
    return None if sd is None else Distribution(kind=kind, mean=mean, sd=sd)


def _empirical(r: Reader, f, path: str, base: Path | None) -> Distribution | None:
    if ("values" in f) == ("file" in f):
        r.problem(f.node, path, "empirical takes either 'values' (a list of seconds) or 'file' (a CSV), exactly one")
        return None
    if "values" in f:
        items = r.sequence(f.get("values"), f.at("values"), non_empty=True)
        if not items:
            return None
        values = [r.number(item, at(f.at("values"), i), above=0, what=SECONDS) for i, item in enumerate(items)]
        if any(v is None for v in values):
            return None
        return Distribution(kind=Kind.EMPIRICAL, values=tuple(values))
    name = f.text("file")
    if name is None:
        return None
    file = (base or Path(".")) / name
    values, problem = read_seconds_csv(file)
    if problem:
        r.problem(f.get("file"), f.at("file"), problem)
        return None
    return Distribution(kind=Kind.EMPIRICAL, values=tuple(values))


def read_seconds_csv(file: Path) -> tuple[list[float], str]:
    """A one-column CSV of seconds (a non-numeric first row is a header): (values, "") or ([], the problem)."""
    try:
        with open(file, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as e:
        return [], f"cannot read {file}: {e.strerror if isinstance(e, OSError) else e}"
    values = []
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells:
            continue
        if len(cells) != 1:
            return [], f"{file}:{line}: expected one column of seconds, found {len(cells)} columns"
        try:
            value = float(cells[0])
        except ValueError:
            if line == 1:
                continue  # a header
            return [], f"{file}:{line}: expected a number of seconds, found {cells[0]!r}"
        if not math.isfinite(value) or value <= 0:
            return [], f"{file}:{line}: expected a positive number of seconds, found {cells[0]!r}"
        values.append(value)
    if not values:
        return [], f"{file}: no values"
    return values, ""
