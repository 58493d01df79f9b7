"""Erlang B / C / A: exact rational references, an independent Markov-chain solution for Erlang A,
published Erlang B table values, limits, large cases and sizing minimality."""

from __future__ import annotations

import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from simulations import erlang as E

# ---------------------------------------------------------------------------------------------------
# Independent references


def exact_b(n: int, a: Fraction) -> Fraction:
    """Erlang B by direct summation: (A^n / n!) / sum_{k<=n} A^k / k!, in exact rationals."""
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def exact_c(n: int, a: Fraction) -> Fraction:
    """Erlang C by direct summation (its own formula, not via B), in exact rationals."""
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def markov_chain_a(n: int, a: float, gamma: float, tau: float, k_extra: int = 400) -> dict[str, float]:
    """Erlang A from scratch, in units of the mean handling time (mu = 1, theta = gamma):

    - stationary distribution: linear solve of the truncated generator of the birth-death chain;
    - answered within tau: a tagged caller's position chain (advance at rate n + (m-1) gamma from
      position m, abandon at rate gamma), absorbed probabilities by uniformization.
    """
    size = n + k_extra + 1
    q = np.zeros((size, size))
    for k in range(size):
        if k + 1 < size:
            q[k, k + 1] = a
        if k > 0:
            q[k, k - 1] = min(k, n) + max(k - n, 0) * gamma
        q[k, k] = -q[k].sum()
    lhs = q.T.copy()
    lhs[-1, :] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.linalg.solve(lhs, rhs)
    queue = np.arange(size - n)
    tail = pi[n:]
    mean_queue = float(np.sum(queue * tail))
    served_share = n / (n + (queue + 1) * gamma)
    p_served = float(pi[:n].sum() + np.sum(tail * served_share))
    # Tagged caller: states 0..J-1 = position 1..J, J = answered, J+1 = abandoned.
    positions = tail.size
    states = positions + 2
    gen = np.zeros((states, states))
    for i in range(positions):
        advance = n + i * gamma
        gen[i, positions if i == 0 else i - 1] += advance
        gen[i, positions + 1] += gamma
        gen[i, i] = -(advance + gamma)
    rate = float(-np.diag(gen).min())
    step = np.eye(states) + gen / rate
    answered_by = np.zeros(states)
    column = np.zeros(states)
    column[positions] = 1.0
    lt = rate * tau
    log_weight = -lt
    for k in range(int(lt + 15 * math.sqrt(lt + 1) + 60)):
        answered_by += math.exp(log_weight) * column
        column = step @ column
        log_weight += math.log(lt) - math.log(k + 1)
    # caller finding j queued ahead starts at position j + 1 (state index j)
    sl = float(pi[:n].sum() + np.sum(tail * answered_by[:positions]))
    harmonic = np.cumsum(1.0 / (n + (queue + 1) * gamma))
    answered_wait = float(np.sum(tail * served_share * harmonic))
    return {
        "p_wait": float(tail.sum()),
        "p_abandon": gamma * mean_queue / a,
        "p_served": p_served,
        "service_level": sl,
        "asa": answered_wait / p_served,
        "mean_wait": mean_queue / a,
    }


# ---------------------------------------------------------------------------------------------------
# Erlang B


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 10, 17, 24, 30])
@pytest.mark.parametrize("a", [Fraction(1, 3), Fraction(5), Fraction(27, 2), Fraction(15), Fraction(29), Fraction(45)])
def test_erlang_b_matches_exact_rational_summation(n: int, a: Fraction) -> None:
    assert E.erlang_b(n, float(a)) == pytest.approx(float(exact_b(n, a)), rel=1e-12, abs=0)


def test_erlang_b_classic_values() -> None:
    assert E.erlang_b(10, 5.0) == pytest.approx(0.018385, abs=5e-7)
    assert E.erlang_b(20, 15.0) == pytest.approx(0.045593, abs=5e-7)
    assert E.erlang_b(0, 3.0) == 1.0
    assert E.erlang_b(4, 0.0) == 0.0


# Offered traffic (Erlangs) carried at a given blocking, from the standard Erlang B table
# (printed to 2 decimals, 3 for the smallest).
ERLANG_B_TABLE = {
    (2, 0.01): 0.153,
    (5, 0.01): 1.36,
    (5, 0.05): 2.22,
    (10, 0.001): 3.09,
    (10, 0.01): 4.46,
    (10, 0.02): 5.08,
    (10, 0.05): 6.22,
    (20, 0.01): 12.03,
    (20, 0.02): 13.18,
    (20, 0.05): 15.25,
    (30, 0.01): 20.34,
    (50, 0.01): 37.90,
    (50, 0.02): 40.26,
    (100, 0.001): 75.24,
    (100, 0.01): 84.06,
    (100, 0.05): 95.24,
}


@pytest.mark.parametrize(("key", "traffic"), ERLANG_B_TABLE.items())
def test_erlang_b_published_table(key: tuple[int, float], traffic: float) -> None:
    n, blocking = key
    half_digit = 0.0005 if traffic < 1 else 0.005
    # The printed traffic is the largest load with B <= blocking, rounded: B crosses the target
    # within half a printed digit of it.
    assert E.erlang_b(n, traffic - half_digit) <= blocking <= E.erlang_b(n, traffic + half_digit)


def test_erlang_b_table_matches_scalar() -> None:
    table = E.erlang_b_table(60, 41.5)
    assert table.shape == (61,)
    for n in (0, 1, 7, 41, 42, 60):
        assert table[n] == E.erlang_b(n, 41.5)


# ---------------------------------------------------------------------------------------------------
# Erlang C


@pytest.mark.parametrize(
    ("n", "a"),
    [
        (1, Fraction(1, 2)),
        (2, Fraction(3, 2)),
        (5, Fraction(4)),
        (10, Fraction(5)),
        (14, Fraction(10)),
        (20, Fraction(15)),
        (24, Fraction(47, 2)),
        (30, Fraction(20)),
        (30, Fraction(299, 10)),
    ],
)
def test_erlang_c_matches_exact_rational_summation(n: int, a: Fraction) -> None:
    c = exact_c(n, a)
    assert E.erlang_c(n, float(a)) == pytest.approx(float(c), rel=1e-12, abs=0)
    aht, target = 180.0, 20.0
    r = E.erlang_c_kpis(n, float(a) * 3600 / aht, aht, target)
    gap = float(n - a)
    assert r.p_wait == pytest.approx(float(c), rel=1e-12)
    assert r.service_level == pytest.approx(1 - float(c) * math.exp(-gap * target / aht), rel=1e-12)
    assert r.asa == pytest.approx(float(c) * aht / gap, rel=1e-12)
    assert r.occupancy == pytest.approx(float(a / n), rel=1e-15)
    assert r.traffic == pytest.approx(float(a), rel=1e-15)


def test_erlang_c_widely_quoted_example() -> None:
    # 100 calls per 30 minutes, 3 minute AHT (10 Erlangs), 80% in 20 s: 14 agents, P(wait) 17.41%.
    r = E.agents_for_service_level_c(200, 180, 20, 0.80)
    assert r.agents == 14
    assert r.traffic == pytest.approx(10.0)
    assert round(r.p_wait, 4) == 0.1741
    assert round(E.erlang_c(11, 10.0), 4) == 0.6821
    assert r.service_level == pytest.approx(0.8884, abs=5e-5)
    assert r.asa == pytest.approx(7.84, abs=5e-3)


@pytest.mark.parametrize(("n", "a"), [(5, 5.0), (5, 7.5), (2000, 2500.0)])
def test_erlang_c_unstable_raises(n: int, a: float) -> None:
    with pytest.raises(ValueError, match="unstable"):
        E.erlang_c(n, a)
    with pytest.raises(ValueError, match="unstable"):
        E.erlang_c_kpis(n, a * 20, 180, 20)  # 20 calls/h x 180 s = 1 Erlang per unit
    with pytest.raises(ValueError, match="unstable"):
        E.erlang_c_table([n + 10, n], a * 20, 180, 20)


def test_erlang_c_table_matches_scalar() -> None:
    agents = list(range(2501, 2601, 7))
    table = E.erlang_c_table(agents, 50_000, 180, 20)
    for i, n in enumerate(agents):
        r = E.erlang_c_kpis(n, 50_000, 180, 20)
        assert table.p_wait[i] == pytest.approx(r.p_wait, rel=1e-13)
        assert table.service_level[i] == pytest.approx(r.service_level, rel=1e-13)
        assert table.asa[i] == pytest.approx(r.asa, rel=1e-13)
        assert table.occupancy[i] == pytest.approx(r.occupancy, rel=1e-15)


# ---------------------------------------------------------------------------------------------------
# Erlang A

A_CASES = [
    # n, A, gamma = AHT / patience, tau = target / AHT
    (1, 0.7, 2.0, 1.0),
    (3, 2.5, 0.5, 0.2),
    (5, 6.0, 0.3, 0.5),  # overloaded: stable only thanks to abandonment
    (8, 7.9, 0.05, 0.3),
    (12, 9.0, 1.5, 0.1),
    (20, 26.0, 0.8, 0.25),
]


@pytest.mark.parametrize(("n", "a", "gamma", "tau"), A_CASES)
def test_erlang_a_matches_markov_chain(n: int, a: float, gamma: float, tau: float) -> None:
    aht = 200.0
    r = E.erlang_a_kpis(n, a * 3600 / aht, aht, aht / gamma, tau * aht)
    ref = markov_chain_a(n, a, gamma, tau)
    assert r.p_wait == pytest.approx(ref["p_wait"], rel=1e-11)
    assert r.p_abandon == pytest.approx(ref["p_abandon"], rel=1e-11)
    assert 1 - r.p_abandon == pytest.approx(ref["p_served"], rel=1e-9)  # theta E[Q] / lambda identity
    assert r.service_level == pytest.approx(ref["service_level"], rel=1e-11)
    assert r.service_level_answered == pytest.approx(ref["service_level"] / ref["p_served"], rel=1e-11)
    assert r.asa == pytest.approx(ref["asa"] * aht, rel=1e-11)
    assert r.mean_wait == pytest.approx(ref["mean_wait"] * aht, rel=1e-11)
    assert r.occupancy == pytest.approx(a * ref["p_served"] / n, rel=1e-11)


def test_erlang_a_target_zero_is_probability_of_no_wait() -> None:
    r = E.erlang_a_kpis(10, 9 * 20, 180, 300, 0)
    assert r.service_level == pytest.approx(1 - r.p_wait, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "calls", "aht", "target"), [(14, 200, 180, 20), (55, 720, 240, 15), (2600, 50_000, 180, 20)]
)
def test_erlang_a_long_patience_tends_to_erlang_c(n: int, calls: float, aht: float, target: float) -> None:
    c = E.erlang_c_kpis(n, calls, aht, target)
    a = E.erlang_a_kpis(n, calls, aht, aht * 1e7, target)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-5)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-5)
    assert a.asa == pytest.approx(c.asa, rel=1e-5)
    assert a.mean_wait == pytest.approx(c.asa, rel=1e-5)
    assert a.occupancy == pytest.approx(c.occupancy, rel=1e-5)
    assert a.p_abandon < 1e-6
    inf = E.erlang_a_kpis(n, calls, aht, math.inf, target)
    assert (inf.p_wait, inf.service_level, inf.asa, inf.p_abandon) == (c.p_wait, c.service_level, c.asa, 0.0)
    assert E.agents_for_service_level_a(calls, aht, math.inf, target, 0.8).agents == (
        E.agents_for_service_level_c(calls, aht, target, 0.8).agents
    )


@pytest.mark.parametrize(("n", "a"), [(1, 0.5), (5, 4.0), (10, 12.0), (100, 95.0)])
def test_erlang_a_impatient_callers_tend_to_erlang_b(n: int, a: float) -> None:
    # Patience -> 0: whoever finds all agents busy leaves at once (M/M/n/n).
    r = E.erlang_a_kpis(n, a * 20, 180, 180e-7, 20)
    b = E.erlang_b(n, a)
    assert r.p_abandon == pytest.approx(b, rel=1e-5)
    assert r.p_wait == pytest.approx(b, rel=1e-5)
    assert r.service_level == pytest.approx(1 - b, rel=1e-5)


def test_erlang_a_overload_with_long_patience_uses_truncated_window() -> None:
    # A > n with patience 100 x AHT: the queue concentrates around (A - n) / gamma = 1000 callers, far
    # from state n, so the summation window starts well above 0. Reference: the whole chain summed.
    n, a, gamma, tau = 50, 60.0, 0.01, 18.0
    aht = 100.0
    r = E.erlang_a_kpis(n, a * 36, aht, aht / gamma, tau * aht)
    size = 20_000
    log_tail = np.concatenate(([0.0], np.cumsum(math.log(a) - np.log(n + gamma * np.arange(1, size)))))
    log_head = np.array([k * math.log(a) - math.lgamma(k + 1) for k in range(n)]) - (
        n * math.log(a) - math.lgamma(n + 1)
    )
    logs = np.concatenate((log_head, log_tail))
    pi = np.exp(logs - logs.max())
    pi /= pi.sum()
    tail = pi[n:]
    j = np.arange(size)
    mean_queue = float(np.sum(j * tail))
    assert r.p_wait == pytest.approx(float(tail.sum()), rel=1e-12)
    assert r.p_abandon == pytest.approx(gamma * mean_queue / a, rel=1e-11)
    served_share = n / (n + (j + 1) * gamma)
    harmonic = np.cumsum(1.0 / (n + (j + 1) * gamma))
    p_served = float(pi[:n].sum() + np.sum(tail * served_share))
    assert r.asa == pytest.approx(float(np.sum(tail * served_share * harmonic)) / p_served * aht, rel=1e-11)
    # answered within tau: P(X > j), X negative binomial(r = n / gamma + 1, y = 1 - e^{-gamma tau})
    rr, y = n / gamma + 1, -math.expm1(-gamma * tau)
    k = np.arange(size)
    log_pmf = np.array([math.lgamma(rr + i) - math.lgamma(rr) - math.lgamma(i + 1) for i in k])
    pmf = np.exp(log_pmf + k * math.log(y) + rr * math.log1p(-y))
    sf = np.cumsum(pmf[::-1])[::-1] - pmf  # P(X > k)
    sl = float(pi[:n].sum() + np.sum(tail * served_share * sf))
    assert 0.1 < sl < 0.9
    assert r.service_level == pytest.approx(sl, rel=1e-11)


@pytest.mark.parametrize(
    ("j", "n", "gamma", "tau"), [(0, 3, 0.5, 0.7), (4, 3, 0.5, 0.7), (9, 20, 0.05, 0.4), (30, 2, 3.0, 2.0)]
)
def test_time_to_answer_is_negative_binomial(j: int, n: int, gamma: float, tau: float) -> None:
    # T = sum_{m=1}^{j+1} Exp(n + m gamma):
    # P(T <= tau) = P(X >= j + 1), X ~ NegBin(n / gamma + 1, 1 - e^{-gamma tau}).
    got = E._negbin_sf(n, gamma, tau, 0, j + 1)[j]
    rates = n + gamma * np.arange(1, j + 2)
    # reference: pure-death chain from j + 1 to 0 by uniformization
    size = j + 2
    gen = np.zeros((size, size))
    for m in range(1, size):
        gen[m, m - 1] = rates[m - 1]
        gen[m, m] = -rates[m - 1]
    lam = float(rates.max())
    step = np.eye(size) + gen / lam
    vec = np.zeros(size)
    vec[j + 1] = 1.0
    total = np.zeros(size)
    lt = lam * tau
    log_w = -lt
    for k in range(int(lt + 15 * math.sqrt(lt + 1) + 60)):
        total += math.exp(log_w) * vec
        vec = vec @ step
        log_w += math.log(lt) - math.log(k + 1)
    assert got == pytest.approx(total[0], rel=1e-10, abs=1e-15)


def test_special_function_helpers() -> None:
    for x, j in [(0.5, 10), (3.0, 1000), (2.0e4, 5000), (3.7e5, 12345)]:
        direct = math.fsum(math.log(x + i) for i in range(j))
        assert E._log_rising(x, j) == pytest.approx(direct, rel=1e-13)
    for n, gamma, count in [(7, 3.0, 3_000_000), (2000, 0.003, 2_000_000), (1, 0.5, 1_500_000)]:
        direct = E._shifted_harmonic(n, gamma, count, direct_limit=10**9)
        assert E._shifted_harmonic(n, gamma, count, direct_limit=10) == pytest.approx(direct, rel=1e-13)


def test_erlang_a_refuses_absurd_patience_under_overload() -> None:
    with pytest.raises(ValueError, match="patience"):
        E.erlang_a_kpis(2000, 50_000, 180, 1e15, 20)


# ---------------------------------------------------------------------------------------------------
# Large cases: finite, in range, monotone, no floating-point warnings


@pytest.fixture
def strict_floats():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error", RuntimeWarning)  # numpy's floating-point warnings
        yield


def in_unit(x: float) -> bool:
    return math.isfinite(x) and 0.0 <= x <= 1.0


@pytest.mark.usefixtures("strict_floats")
def test_large_erlang_b_and_c() -> None:
    for n in (1000, 2000, 2500, 10_000):
        assert in_unit(E.erlang_b(n, 2500.0))
    assert E.erlang_b(20_000, 2500.0) == 0.0
    # 50,000 calls/h with 60 s, 120 s, 180 s AHT: 833, 1667, 2500 Erlangs
    for n, aht in [(1000, 60), (2000, 120), (2501, 180), (3000, 180)]:
        r = E.erlang_c_kpis(n, 50_000, aht, 20)
        assert all(in_unit(v) for v in (r.p_wait, r.service_level, r.occupancy))
        assert math.isfinite(r.asa) and r.asa >= 0
    table = E.erlang_c_table(range(2501, 3001), 50_000, 180, 20)
    assert np.all(np.diff(table.p_wait) < 0)
    assert np.all(np.diff(table.service_level) >= 0)
    assert np.all(np.diff(table.asa) < 0)
    assert table.service_level[-1] == 1.0


@pytest.mark.usefixtures("strict_floats")
@pytest.mark.parametrize("patience", [30.0, 120.0, 1800.0])
def test_large_erlang_a_monotone_in_agents(patience: float) -> None:
    results = [E.erlang_a_kpis(n, 50_000, 180, patience, 20) for n in range(1000, 3201, 50)]
    for r in results:
        assert all(in_unit(v) for v in (r.p_wait, r.p_abandon, r.service_level, r.occupancy))
        assert in_unit(r.service_level_answered)
        assert math.isfinite(r.asa) and r.asa >= 0 and math.isfinite(r.mean_wait)
    noise = 1e-13  # values pinned at 0 or 1 wobble by a few ulps
    for lo, hi in itertools.pairwise(results):
        assert hi.p_wait <= lo.p_wait + noise
        assert hi.p_abandon <= lo.p_abandon + noise
        assert hi.service_level >= lo.service_level - noise
        assert hi.mean_wait <= lo.mean_wait * (1 + noise)
    # where the values are not pinned, strictly monotone
    moving = [r for r in results if 1e-6 < r.service_level < 1 - 1e-6]
    assert len(moving) >= 4
    assert all(hi.service_level > lo.service_level for lo, hi in itertools.pairwise(moving))
    assert all(hi.p_abandon < lo.p_abandon for lo, hi in itertools.pairwise(moving))
    # 1,000 agents for 2,500 Erlangs: at most 1000 / 2500 of the calls can be answered
    assert results[0].p_abandon == pytest.approx(0.6, abs=1e-9)
    assert results[-1].p_wait < 1e-6


# ---------------------------------------------------------------------------------------------------
# Sizing


@pytest.mark.parametrize(
    ("calls", "aht", "target", "goal"),
    [(200, 180, 20, 0.8), (720, 240, 15, 0.8), (10, 300, 30, 0.9), (5_000, 240, 20, 0.95), (50_000, 180, 20, 0.8)],
)
def test_sizing_c_is_minimal(calls: float, aht: float, target: float, goal: float) -> None:
    r = E.agents_for_service_level_c(calls, aht, target, goal)
    assert r.service_level >= goal
    assert r == E.erlang_c_kpis(r.agents, calls, aht, target)
    below = r.agents - 1
    if below > r.traffic:
        assert E.erlang_c_kpis(below, calls, aht, target).service_level < goal


@pytest.mark.parametrize(
    ("calls", "aht", "patience", "target", "goal"),
    [
        (200, 180, 120, 20, 0.8),
        (720, 240, 60, 15, 0.8),
        (10, 300, 600, 30, 0.9),
        (5_000, 240, 90, 20, 0.95),
        (50_000, 180, 120, 20, 0.8),
        (50_000, 180, 10, 60, 0.5),
        (50_000, 180, 1e6, 20, 0.8),
    ],
)
def test_sizing_a_is_minimal(calls: float, aht: float, patience: float, target: float, goal: float) -> None:
    r = E.agents_for_service_level_a(calls, aht, patience, target, goal)
    assert r.service_level >= goal
    assert r == E.erlang_a_kpis(r.agents, calls, aht, patience, target)
    if r.agents > 1:
        assert E.erlang_a_kpis(r.agents - 1, calls, aht, patience, target).service_level < goal


def test_the_biggest_sizing_gives_finite_agent_counts() -> None:
    c = E.agents_for_service_level_c(50_000, 180, 20, 0.8)
    a = E.agents_for_service_level_a(50_000, 180, 120, 20, 0.8)
    assert 2500 < c.agents < 2600
    assert 2000 < a.agents < c.agents  # impatient callers leave, so fewer agents meet the target


# ---------------------------------------------------------------------------------------------------
# Validation and formatting


@pytest.mark.parametrize(
    "call",
    [
        lambda: E.erlang_b(-1, 1.0),
        lambda: E.erlang_b(3, -1.0),
        lambda: E.erlang_b(3, math.nan),
        lambda: E.erlang_c_kpis(0, 100, 180, 20),
        lambda: E.erlang_c_kpis(5, 0, 180, 20),
        lambda: E.erlang_c_kpis(5, 10, -1, 20),
        lambda: E.erlang_c_kpis(5, 10, 180, -1),
        lambda: E.erlang_a_kpis(5, 10, 180, 0, 20),
        lambda: E.agents_for_service_level_c(100, 180, 20, 1.0),
        lambda: E.agents_for_service_level_a(100, 180, 60, 20, 0.0),
    ],
)
def test_invalid_input_raises_value_error(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_non_integer_agents_rejected() -> None:
    with pytest.raises(TypeError):
        E.erlang_c_kpis(5.5, 10, 180, 20)  # type: ignore[arg-type]
    assert E.erlang_c_kpis(np.int64(5), 10, 180, 20).agents == 5


def test_format_result() -> None:
    c = E.format_result(E.agents_for_service_level_c(200, 180, 20, 0.8))
    assert c.splitlines()[0] == "Erlang C (M/M/n)"
    for text in ("10.00 Erlangs", "agents:         14", "P(wait):        17.41%", "88.84% answered within 20 s"):
        assert text in c
    assert "ASA:            7.8 s" in c and "occupancy:      71.43%" in c
    a = E.format_result(E.erlang_a_kpis(14, 200, 180, 120, 20))
    assert a.startswith("Erlang A (M/M/n+M), mean patience 120 s")
    assert "abandoned:" in a and "of answered calls" in a and "mean wait of all calls" in a
    with pytest.raises(TypeError):
        E.format_result("nope")  # type: ignore[arg-type]
