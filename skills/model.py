"""Skills, requirements and how an agent's skills score against them. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_LEVEL = 1
MAX_LEVEL = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class SkillRequirement:
    """A skill a contact needs, with the lowest proficiency (1-10) that will do."""

    skill: str
    min_level: int = MIN_LEVEL

    def __reduce__(self) -> tuple:
        # Pickled by its fields: compiled (mypyc), a frozen dataclass cannot be unpickled attribute by attribute.
        return _requirement, (self.skill, self.min_level)


def _requirement(skill: str, min_level: int) -> SkillRequirement:
    return SkillRequirement(skill=skill, min_level=min_level)


Requirements = tuple[SkillRequirement, ...]


def meets(skills: dict[str, int], requirements: Requirements) -> bool:
    """Whether an agent with ``skills`` (skill -> level) may take a contact needing ``requirements``."""
    for req in requirements:  # noqa: SIM110 (a loop: all() over a generator costs more, per agent looked at)
        if skills.get(req.skill, 0) < req.min_level:
            return False
    return True


def proficiency(skills: dict[str, int], requirements: Requirements) -> float:
    """How well ``skills`` cover ``requirements``: the mean level over the required skills.

    Used by the most-skilled strategy. With no requirement every agent scores 0 and ties are
    broken by the strategy's tie-breaker (longest idle).
    """
    total = 0
    count = 0
    for req in requirements:
        total += skills.get(req.skill, 0)
        count += 1
    return total / count if count else 0.0


def merge(base: Requirements, extra: Requirements) -> Requirements:
    """``base`` with ``extra`` added; where both name a skill, the higher minimum wins."""
    if not extra:
        return base
    levels: dict[str, int] = {r.skill: r.min_level for r in base}
    for r in extra:
        levels[r.skill] = max(levels.get(r.skill, 0), r.min_level)
    return tuple(SkillRequirement(skill=s, min_level=lv) for s, lv in levels.items())


def encode(requirements: Iterable[SkillRequirement]) -> str:
    """A compact, order-independent text form (``"es:5,sales:3"``), used as a key and in Redis."""
    if not requirements:
        return ""
    return ",".join(f"{r.skill}:{r.min_level}" for r in sorted(requirements, key=lambda r: r.skill))


def decode(text: str) -> Requirements:
    """The inverse of :func:`encode`."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        skill, _, level = part.partition(":")
        out.append(SkillRequirement(skill=skill, min_level=int(level or MIN_LEVEL)))
    return tuple(out)
