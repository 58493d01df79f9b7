"""The skill model and matching rules: pure code, no I/O."""

from skills.model import MAX_LEVEL, MIN_LEVEL, Requirements, SkillRequirement, decode, encode, meets, merge, proficiency

__all__ = [
    "MAX_LEVEL",
    "MIN_LEVEL",
    "Requirements",
    "SkillRequirement",
    "decode",
    "encode",
    "meets",
    "merge",
    "proficiency",
]
