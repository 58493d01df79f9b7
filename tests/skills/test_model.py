from skills.model import SkillRequirement as R
from skills.model import decode, encode, meets, merge, proficiency


def test_meets_needs_every_skill_at_its_level():
    skills = {"sales": 5, "es": 8}
    assert meets(skills, (R(skill="sales", min_level=5), R(skill="es", min_level=3)))
    assert not meets(skills, (R(skill="sales", min_level=6),))
    assert not meets(skills, (R(skill="pt", min_level=1),))
    assert meets(skills, ())


def test_proficiency_is_the_mean_level_over_the_required_skills():
    reqs = (R(skill="sales", min_level=1), R(skill="es", min_level=1))
    assert proficiency({"sales": 9, "es": 5, "pt": 10}, reqs) == 7.0
    assert proficiency({"sales": 9}, reqs) == 4.5
    assert proficiency({"sales": 9}, ()) == 0.0


def test_merge_keeps_the_higher_minimum():
    merged = merge((R(skill="sales", min_level=3),), (R(skill="sales", min_level=5), R(skill="es", min_level=2)))
    assert {(r.skill, r.min_level) for r in merged} == {("sales", 5), ("es", 2)}


def test_encode_is_order_independent_and_reversible():
    reqs = (R(skill="sales", min_level=3), R(skill="es", min_level=5))
    assert encode(reqs) == encode(tuple(reversed(reqs))) == "es:5,sales:3"
    assert set(decode(encode(reqs))) == set(reqs)
    assert decode("") == ()
