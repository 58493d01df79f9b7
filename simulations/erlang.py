"""Erlang B, Erlang C (M/M/n) and Erlang A (M/M/n+M) staffing formulas, numerically stable.

Everything is computed with recurrences or in log space: no factorials, no powers of the traffic, so
the results stay finite and accurate for tens of thousands of agents and Erlangs. numpy only (no
scipy). Definitions, formulas and a worked example are in ``docs/erlang.md``.

Units: ``calls_per_hour`` is the offered arrival rate, every ``*_seconds`` argument is in seconds and
``traffic`` is the offered load in Erlangs, ``calls_per_hour * aht_seconds / 3600``.

Unstable Erlang C (``traffic >= agents``): every function that evaluates Erlang C raises ``ValueError``
(the queue grows without bound, so there is no steady state to report). Erlang A is stable for any
number of agents >= 1 because callers abandon; it only falls back on Erlang C (and raises the same way)
when ``patience_seconds`` is infinite.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ErlangAResult",
    "ErlangCResult",
    "ErlangCTable",
    "agents_for_service_level_a",
    "agents_for_service_level_c",
    "erlang_a_kpis",
    "erlang_b",
    "erlang_b_table",
    "erlang_c",
    "erlang_c_kpis",
    "erlang_c_table",
    "format_result",
    "offered_traffic",
]

#: Sizing searches give up (ValueError) above this many agents.
MAX_AGENTS = 1_000_000

# Terms dropped from a truncated sum are bounded by this share of the total (log of 1e-18).
_LOG_NEGLIGIBLE = math.log(1e-18)
# A truncation window longer than this means absurd parameters (e.g. an effectively infinite patience
# with an overloaded queue): refuse rather than allocate gigabytes.
_MAX_WINDOW = 50_000_000


# ---------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ErlangCResult:
    """Steady-state KPIs of an M/M/n queue (Erlang C: Poisson arrivals, exponential handling, no
    abandonment).

    Attributes:
        agents: Number of agents n.
        traffic: Offered load A in Erlangs (calls per hour x AHT / 3600).
        p_wait: Probability that a call has to queue (the Erlang C formula).
        service_level: Share of calls answered within ``target_seconds``.
        asa: Average speed of answer in seconds: mean queueing time over all calls (0 for those
            answered at once).
        occupancy: Share of agent time spent handling calls, A / n.
        calls_per_hour: Offered calls per hour.
        aht_seconds: Average handling time in seconds.
        target_seconds: Answer-time target of the service level, in seconds.
    """

    agents: int
    traffic: float
    p_wait: float
    service_level: float
    asa: float
    occupancy: float
    calls_per_hour: float
    aht_seconds: float
    target_seconds: float


@dataclass(frozen=True)
class ErlangAResult:
    """Steady-state KPIs of an M/M/n+M queue (Erlang A: Erlang C plus exponentially distributed
    patience; a caller whose patience runs out before an agent answers abandons).

    Attributes:
        agents: Number of agents n.
        traffic: Offered load A in Erlangs (calls per hour x AHT / 3600).
        p_wait: Probability that a call finds every agent busy and has to queue (whether it is then
            answered or abandons).
        p_abandon: Probability that a call abandons.
        service_level: Share of ALL offered calls that are answered within ``target_seconds``
            (abandoned calls count as failures, whenever they hang up).
        asa: Average speed of answer in seconds: mean wait of the ANSWERED calls (0 for those answered
            at once).
        occupancy: Share of agent time spent handling calls, A x (1 - p_abandon) / n.
        service_level_answered: Share of the ANSWERED calls answered within ``target_seconds``.
        mean_wait: Mean time in queue over ALL calls, in seconds (abandoned calls until they hang up);
            by Little's law E[queue length] / arrival rate.
        calls_per_hour: Offered calls per hour.
        aht_seconds: Average handling time in seconds.
        patience_seconds: Mean patience in seconds (``math.inf``: nobody abandons, Erlang C).
        target_seconds: Answer-time target of the service level, in seconds.
    """

    agents: int
    traffic: float
    p_wait: float
    p_abandon: float
    service_level: float
    asa: float
    occupancy: float
    service_level_answered: float
    mean_wait: float
    calls_per_hour: float
    aht_seconds: float
    patience_seconds: float
    target_seconds: float


@dataclass(frozen=True)
class ErlangCTable:
    """Erlang C KPIs for several agent counts at once (numpy arrays aligned with ``agents``).

    Attributes:
        agents: Agent counts, as given.
        traffic: Offered load in Erlangs.
        p_wait: Probability of waiting for each agent count.
        service_level: Share answered within ``target_seconds`` for each agent count.
        asa: Average speed of answer in seconds for each agent count.
        occupancy: A / n for each agent count.
    """

    agents: np.ndarray
    traffic: float
    p_wait: np.ndarray
    service_level: np.ndarray
    asa: np.ndarray
    occupancy: np.ndarray


# ---------------------------------------------------------------------------------------------------
# Validation


def _count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return n


def _real(value: float, name: str, *, positive: bool = False, allow_inf: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and not x > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if not positive and x < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return x


def _probability_target(value: float) -> float:
    x = _real(value, "service_level")
    if not 0 < x < 1:
        raise ValueError(f"service_level must be strictly between 0 and 1, got {value!r}")
    return x


def offered_traffic(calls_per_hour: float, aht_seconds: float) -> float:
    """Offered load in Erlangs.

    Args:
        calls_per_hour: Offered calls per hour (> 0).
        aht_seconds: Average handling time in seconds (> 0).

    Returns:
        ``calls_per_hour * aht_seconds / 3600``.
    """
    rate = _real(calls_per_hour, "calls_per_hour", positive=True)
    aht = _real(aht_seconds, "aht_seconds", positive=True)
    return rate * aht / 3600.0


def _unstable(servers: int, traffic: float) -> ValueError:
    return ValueError(
        f"Erlang C is unstable with {servers} agents for {traffic:.6g} Erlangs of traffic: "
        f"it needs more agents than Erlangs (at least {math.floor(traffic) + 1}); "
        "without abandonment the queue grows without bound"
    )


# ---------------------------------------------------------------------------------------------------
# Erlang B and C


def erlang_b(servers: int, traffic: float) -> float:
    """Erlang B blocking probability of an M/M/n/n loss system.

    Uses the recurrence B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1)), which stays in [0, 1] and is
    stable for any n and A (no factorials).

    Args:
        servers: Number of servers n (>= 0).
        traffic: Offered load A in Erlangs (>= 0).

    Returns:
        The probability that an arrival finds all n servers busy.
    """
    n = _count(servers, "servers", 0)
    a = _real(traffic, "traffic")
    b = 1.0
    for k in range(1, n + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_b_table(max_servers: int, traffic: float) -> np.ndarray:
    """Erlang B for every server count from 0 to ``max_servers`` (one pass of the recurrence).

    Args:
        max_servers: Largest server count (>= 0).
        traffic: Offered load in Erlangs (>= 0).

    Returns:
        Array ``b`` of length ``max_servers + 1`` with ``b[n] == erlang_b(n, traffic)``.
    """
    n_max = _count(max_servers, "max_servers", 0)
    a = _real(traffic, "traffic")
    out = [1.0] * (n_max + 1)
    b = 1.0
    for k in range(1, n_max + 1):
        ab = a * b
        b = ab / (k + ab)
        out[k] = b
    return np.array(out, dtype=float)


def _c_from_b(n: int, a: float, b: float) -> float:
    # C = n B / (n - A (1 - B)); the denominator is > n - A > 0.
    return n * b / (n - a * (1.0 - b))


def erlang_c(servers: int, traffic: float) -> float:
    """Erlang C probability of waiting of an M/M/n queue.

    Computed from Erlang B: C = n B / (n - A (1 - B)).

    Args:
        servers: Number of agents n (>= 1).
        traffic: Offered load A in Erlangs (>= 0).

    Returns:
        The probability that an arrival has to queue.

    Raises:
        ValueError: if ``traffic >= servers`` (no steady state).
    """
    n = _count(servers, "servers", 1)
    a = _real(traffic, "traffic")
    if a >= n:
        raise _unstable(n, a)
    return _c_from_b(n, a, erlang_b(n, a))


def _c_kpis(n: int, a: float, c: float, aht: float, target: float) -> tuple[float, float, float]:
    """(service level, ASA seconds, occupancy) of M/M/n given P(wait) = c."""
    gap = n - a  # > 0
    sl = 1.0 - c * math.exp(-gap * target / aht)
    asa = c * aht / gap
    return min(max(sl, 0.0), 1.0), asa, a / n


def erlang_c_kpis(agents: int, calls_per_hour: float, aht_seconds: float, target_seconds: float) -> ErlangCResult:
    """Erlang C KPIs for a given number of agents.

    Args:
        agents: Number of agents (>= 1).
        calls_per_hour: Offered calls per hour (> 0).
        aht_seconds: Average handling time in seconds (> 0).
        target_seconds: Answer-time target of the service level in seconds (>= 0).

    Returns:
        An :class:`ErlangCResult`. Service level: 1 - C exp(-(n - A) t / AHT); ASA: C AHT / (n - A);
        occupancy: A / n.

    Raises:
        ValueError: on invalid input, or if the traffic is not below the number of agents.
    """
    n = _count(agents, "agents", 1)
    a = offered_traffic(calls_per_hour, aht_seconds)
    target = _real(target_seconds, "target_seconds")
    aht = float(aht_seconds)
    if a >= n:
        raise _unstable(n, a)
    c = _c_from_b(n, a, erlang_b(n, a))
    sl, asa, occ = _c_kpis(n, a, c, aht, target)
    return ErlangCResult(n, a, c, sl, asa, occ, float(calls_per_hour), aht, target)


def erlang_c_table(
    agents: Iterable[int], calls_per_hour: float, aht_seconds: float, target_seconds: float
) -> ErlangCTable:
    """Erlang C KPIs for many agent counts at once (one Erlang B pass up to the largest, then numpy).

    Args:
        agents: Agent counts, each greater than the traffic in Erlangs.
        calls_per_hour: Offered calls per hour (> 0).
        aht_seconds: Average handling time in seconds (> 0).
        target_seconds: Answer-time target in seconds (>= 0).

    Returns:
        An :class:`ErlangCTable` with one entry per agent count.

    Raises:
        ValueError: on invalid input or if any agent count is not above the traffic.
    """
    ns = np.array([_count(k, "agents", 1) for k in agents], dtype=np.int64)
    a = offered_traffic(calls_per_hour, aht_seconds)
    aht = float(aht_seconds)
    target = _real(target_seconds, "target_seconds")
    if ns.size == 0:
        empty = np.zeros(0)
        return ErlangCTable(ns, a, empty, empty.copy(), empty.copy(), empty.copy())
    smallest = int(ns.min())
    if a >= smallest:
        raise _unstable(smallest, a)
    b = erlang_b_table(int(ns.max()), a)[ns]
    nf = ns.astype(float)
    gap = nf - a
    c = nf * b / (nf - a * (1.0 - b))
    with np.errstate(under="ignore"):
        sl = np.clip(1.0 - c * np.exp(-gap * target / aht), 0.0, 1.0)
    return ErlangCTable(ns, a, c, sl, c * aht / gap, a / nf)


def agents_for_service_level_c(
    calls_per_hour: float, aht_seconds: float, target_seconds: float, service_level: float
) -> ErlangCResult:
    """Fewest agents whose Erlang C service level reaches ``service_level``.

    Scans n upward from the first stable count, updating Erlang B by one recurrence step per agent, so
    the cost is O(answer) (about a millisecond for 2,500 Erlangs).

    Args:
        calls_per_hour: Offered calls per hour (> 0).
        aht_seconds: Average handling time in seconds (> 0).
        target_seconds: Answer-time target in seconds (>= 0).
        service_level: Required share answered within the target, strictly between 0 and 1.

    Returns:
        The :class:`ErlangCResult` of the smallest n with ``service_level >= target``.

    Raises:
        ValueError: on invalid input or if more than :data:`MAX_AGENTS` agents would be needed.
    """
    a = offered_traffic(calls_per_hour, aht_seconds)
    aht = float(aht_seconds)
    target = _real(target_seconds, "target_seconds")
    goal = _probability_target(service_level)
    b = 1.0
    n = 0
    first = math.floor(a) + 1
    while n < MAX_AGENTS:
        n += 1
        ab = a * b
        b = ab / (n + ab)
        if n < first:
            continue
        c = _c_from_b(n, a, b)
        sl, asa, occ = _c_kpis(n, a, c, aht, target)
        if sl >= goal:
            return ErlangCResult(n, a, c, sl, asa, occ, float(calls_per_hour), aht, target)
    raise ValueError(f"service level {goal} needs more than {MAX_AGENTS} agents")


# ---------------------------------------------------------------------------------------------------
# Special-function helpers for Erlang A (scalar, pure Python)


def _log_rising(x: float, j: int) -> float:
    """log(Gamma(x + j) / Gamma(x)) for x > 0, j >= 0, accurate also for huge x."""
    if j == 0:
        return 0.0
    if x < 1e4:
        return math.lgamma(x + j) - math.lgamma(x)
    # Stirling series difference, written so that nothing of size x log x cancels.
    z = x + j

    def corr(v: float) -> float:
        v2 = v * v
        return 1.0 / (12.0 * v) - 1.0 / (360.0 * v * v2)

    return (x - 0.5) * math.log1p(j / x) + j * math.log(z) - j + (corr(z) - corr(x))


def _digamma_diff(x: float, j: int) -> float:
    """psi(x + j) - psi(x) = sum_{m=0}^{j-1} 1 / (x + m) for x > 0, j >= 0."""
    if j == 0:
        return 0.0
    total = 0.0
    # Shift small x up so that the asymptotic series is accurate; the shifted terms cancel exactly.
    while x < 20.0 and j > 0:
        total += 1.0 / x
        x += 1.0
        j -= 1
    if j == 0:
        return total
    z = x + j

    def tail(v: float) -> float:  # psi(v) - log(v), asymptotic
        v2 = v * v
        v4 = v2 * v2
        return -0.5 / v - 1.0 / (12.0 * v2) + 1.0 / (120.0 * v4) - 1.0 / (252.0 * v4 * v2) + 1.0 / (240.0 * v4 * v4)

    return total + math.log1p(j / x) + (tail(z) - tail(x))


def _shifted_harmonic(n: int, gamma: float, count: int, direct_limit: int = 1 << 20) -> float:
    """sum_{m=1}^{count} 1 / (n + m gamma)."""
    if count <= 0:
        return 0.0
    if count <= direct_limit:
        m = np.arange(1, count + 1, dtype=float)
        return float(np.sum(1.0 / (n + m * gamma)))
    return _digamma_diff(n / gamma + 1.0, count) / gamma


def _log_inv_b_table(n_max: int, a: float) -> list[float]:
    """[log(1 / B(k, a)) for k in 0..n_max], via R(k) = 1 + (k / a) R(k - 1) in log space."""
    out = [0.0] * (n_max + 1)
    lr = 0.0
    log_a = math.log(a)
    for k in range(1, n_max + 1):
        x = math.log(k) - log_a + lr
        lr = x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))
        out[k] = lr
    return out


def _window(
    log_ratio: Callable[[np.ndarray], np.ndarray],
    anchor: int,
    log_anchor: float,
    log_floor: float,
    last: int | None = None,
) -> tuple[int, np.ndarray, bool]:
    """Significant terms of a positive sequence t_i, i >= 0, whose ratios r_i = t_i / t_{i-1} decrease
    in i (so it rises to a mode, then falls). ``log_ratio(i)`` gives log r_i for an array of i >= 1.

    Starting from ``t_anchor`` (best near the mode), extends right until the rest of the sequence is
    bounded, geometrically, by exp(log_floor) (or up to index ``last``), and left likewise (or down to
    i = 0).

    Returns:
        (first index, array of log t_i for consecutive i, whether the right side ended because the rest
        was negligible rather than at ``last``).
    """
    right: list[np.ndarray] = []
    tip = log_anchor  # log of the rightmost term kept so far
    i0 = anchor + 1
    size = 256
    length = 1
    complete = True
    while True:
        if last is not None and i0 + size - 1 > last:
            size = last - i0 + 1
            if size <= 0:
                complete = False
                break
        idx = np.arange(i0, i0 + size, dtype=float)
        lr = log_ratio(idx)  # log r_i for i = i0 .. i0 + size - 1
        vals = tip + np.cumsum(lr)  # log t_i
        prev = np.concatenate(([tip], vals[:-1]))  # log t_k for k = i0 - 1 .. i0 + size - 2
        # sum_{i > k} t_i <= t_k rho / (1 - rho), rho = r_{k+1} (ratios decrease)
        neg = np.minimum(lr, -1e-300)
        bound = prev + neg - np.log(-np.expm1(neg))
        ok = (lr < 0) & (bound < log_floor)
        hit = np.flatnonzero(ok)
        if hit.size:
            right.append(vals[: hit[0]])
            break
        right.append(vals)
        length += size
        if length > _MAX_WINDOW:
            raise ValueError("Erlang A truncation window too large (patience far too long for this overload)")
        tip = float(vals[-1])
        i0 += size
        size = min(size * 2, 1 << 22)

    left: list[np.ndarray] = []
    k = anchor
    cur = log_anchor
    size = 256
    while k > 0:
        m = min(size, k)
        idx = np.arange(k, k - m, -1, dtype=float)  # k, k-1, ..., k-m+1, all >= 1
        lr = log_ratio(idx)
        logs_i = cur - np.concatenate(([0.0], np.cumsum(lr[:-1])))  # log t_i for i in idx
        # sum_{i' < i} t_i' <= t_i q / (1 - q), q = 1 / r_i
        pos = np.maximum(lr, 1e-300)
        bound = logs_i - pos - np.log(-np.expm1(-pos))
        ok = (lr > 0) & (bound < log_floor)
        hit = np.flatnonzero(ok)
        if hit.size:
            left.append(logs_i[1 : hit[0] + 1])
            k = int(idx[hit[0]])
            break
        below = float(logs_i[-1] - lr[-1])  # log t_{k-m}
        left.append(np.concatenate((logs_i[1:], [below])))
        length += m
        if length > _MAX_WINDOW:
            raise ValueError("Erlang A truncation window too large (patience far too long for this overload)")
        k -= m
        cur = below
        size = min(size * 2, 1 << 22)
    left_vals = np.concatenate(left)[::-1] if left else np.zeros(0)
    return k, np.concatenate((left_vals, [log_anchor], *right)), complete


def _logsumexp(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top + math.log(float(np.sum(np.exp(x - top))))


@dataclass(frozen=True)
class _ACore:
    p_wait: float
    p_abandon: float
    p_served: float
    sl_all: float
    asa_units: float  # answered calls, in AHT units
    mean_wait_units: float  # all calls, in AHT units


def _erlang_a_core(n: int, a: float, gamma: float, tau: float, log_e: float) -> _ACore:
    """M/M/n+M in units of the mean handling time.

    Args:
        n: agents (>= 1); a: offered load (> 0); gamma: AHT / patience (> 0); tau: target / AHT (>= 0);
        log_e: log(sum_{k<n} pi_k / pi_n) = log(1 / B(n, a) - 1).
    """
    # Queue part of the stationary distribution relative to pi_n: w_j = pi_{n+j} / pi_n
    #   = prod_{i=1}^{j} a / (n + i gamma).  Its ratios decrease in j; mode at floor((a - n) / gamma).
    log_a = math.log(a)

    def log_ratio_w(j: np.ndarray) -> np.ndarray:
        return log_a - np.log(n + j * gamma)

    if a > n:
        mode = math.floor((a - n) / gamma)
        if mode > _MAX_WINDOW * 10:
            raise ValueError("Erlang A queue too long to evaluate (patience far too long for this overload)")
        x = n / gamma + 1.0
        # log w_mode = mode log(a / gamma) - log Gamma(x + mode) / Gamma(x)
        log_w_mode = mode * (log_a - math.log(gamma)) - _log_rising(x, mode) if mode else 0.0
    else:
        mode, log_w_mode = 0, 0.0
    # Work relative to the mode (log w_mode = 0) so that the logs stay small and exact-ish.
    log_e_rel = log_e - log_w_mode
    j_lo, log_w, _ = _window(log_ratio_w, mode, 0.0, max(log_e_rel, 0.0) + _LOG_NEGLIGIBLE)
    top = max(float(np.max(log_w)), log_e_rel)
    p = np.exp(log_w - top)
    e_weight = math.exp(log_e_rel - top)
    z = float(np.sum(p)) + e_weight
    p /= z  # P(n + j in system), j = j_lo ..
    p_nowait = e_weight / z
    j = np.arange(j_lo, j_lo + p.size, dtype=float)
    p_wait = float(np.sum(p))
    queue = float(np.sum(j * p))  # E[queue length]
    p_abandon = min(gamma * queue / a, 1.0)  # theta E[Q] / lambda
    mean_wait_units = queue / a  # Little: E[Q] / lambda, in AHT units

    # An arrival finding j waiting ahead of it is answered iff its patience outlasts V = sum of
    # Exp(n + m gamma), m = 0..j: P(answered) = n / (n + (j+1) gamma); answered within t with
    # probability n / (n + (j+1) gamma) * P(X > j), X ~ NegBin(r = n / gamma + 1, y = 1 - e^{-gamma tau}).
    served_share = n / (n + (j + 1.0) * gamma)
    ps = p * served_share
    p_served = p_nowait + float(np.sum(ps))

    # Mean wait of the answered: E[V e^{-theta V}] = served_share * sum_{m=1}^{j+1} 1 / (n + m gamma).
    harmonic = _shifted_harmonic(n, gamma, j_lo) + np.cumsum(1.0 / (n + (j + 1.0) * gamma))
    asa_units = float(np.sum(ps * harmonic)) / p_served

    sl_queue = float(np.sum(ps * _negbin_sf(n, gamma, tau, j_lo, p.size))) if tau > 0.0 else 0.0
    sl_all = p_nowait + sl_queue
    return _ACore(
        p_wait=min(p_wait, 1.0),
        p_abandon=p_abandon,
        p_served=min(p_served, 1.0),
        sl_all=min(max(sl_all, 0.0), 1.0),
        asa_units=asa_units,
        mean_wait_units=mean_wait_units,
    )


def _negbin_sf(n: int, gamma: float, tau: float, j_lo: int, count: int) -> np.ndarray:
    """P(X > j) for j = j_lo .. j_lo + count - 1, X ~ NegBin(r, y) with r = n / gamma + 1,
    y = 1 - exp(-gamma tau): P(X = k) = Gamma(r + k) / (Gamma(r) k!) y^k (1 - y)^r.

    Only the pmf on [.., j_hi] is needed (P(X > j) = 1 - P(X <= j)), so the window is anchored at
    min(mode, j_hi) and never extends past j_hi.
    """
    j_hi = j_lo + count - 1
    r = n / gamma + 1.0
    g_tau = gamma * tau
    log_y = math.log(-math.expm1(-g_tau))  # log(1 - e^{-gamma tau}) <= 0

    def log_ratio(k: np.ndarray) -> np.ndarray:
        return np.log(r + k - 1.0) - np.log(k) + log_y

    # mode = floor((r - 1) y / (1 - y)) = floor((n / gamma) (e^{gamma tau} - 1)), compared in log space
    beyond = math.log(n / gamma) + g_tau + log_y >= math.log(j_hi + 1.0)
    anchor = j_hi if beyond else min(math.floor((n / gamma) * math.expm1(g_tau)), j_hi)
    # log P(X = anchor); r log(1 - y) = -(n + gamma) tau exactly
    log_anchor = _log_rising(r, anchor) - math.lgamma(anchor + 1.0) + anchor * log_y - (n + gamma) * tau
    k_lo, log_pmf, complete = _window(log_ratio, anchor, log_anchor, _LOG_NEGLIGIBLE, last=j_hi)
    pmf = np.exp(log_pmf)
    if complete:
        # The window holds all the mass: renormalise away the rounding of the anchor value and sum the
        # upper tail directly (accurate even where it is tiny).
        pmf /= float(np.sum(pmf))
        sf = np.concatenate((np.cumsum(pmf[::-1])[::-1][1:], [0.0]))  # P(X > k_lo + i)
    else:
        # The mass goes on past j_hi, so P(X > j) >= P(X > j_hi) is not tiny here: 1 - CDF is fine.
        sf = 1.0 - np.cumsum(pmf)
    jj = np.arange(j_lo, j_hi + 1)
    out = np.ones(count)
    inside = jj >= k_lo  # k_lo <= j <= j_hi; the window reaches j_hi or the mass ends before it
    out[inside] = sf[np.minimum(jj[inside] - k_lo, sf.size - 1)]
    return np.clip(out, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------
# Erlang A


def _a_result(n: int, a: float, core: _ACore, cph: float, aht: float, patience: float, target: float) -> ErlangAResult:
    sl_answered = core.sl_all / core.p_served if core.p_served > 0 else 0.0
    return ErlangAResult(
        agents=n,
        traffic=a,
        p_wait=core.p_wait,
        p_abandon=core.p_abandon,
        service_level=core.sl_all,
        asa=core.asa_units * aht,
        occupancy=min(a * (1.0 - core.p_abandon) / n, 1.0),
        service_level_answered=min(sl_answered, 1.0),
        mean_wait=core.mean_wait_units * aht,
        calls_per_hour=cph,
        aht_seconds=aht,
        patience_seconds=patience,
        target_seconds=target,
    )


def _a_from_c(c: ErlangCResult, patience: float) -> ErlangAResult:
    return ErlangAResult(
        agents=c.agents,
        traffic=c.traffic,
        p_wait=c.p_wait,
        p_abandon=0.0,
        service_level=c.service_level,
        asa=c.asa,
        occupancy=c.occupancy,
        service_level_answered=c.service_level,
        mean_wait=c.asa,
        calls_per_hour=c.calls_per_hour,
        aht_seconds=c.aht_seconds,
        patience_seconds=patience,
        target_seconds=c.target_seconds,
    )


def erlang_a_kpis(
    agents: int, calls_per_hour: float, aht_seconds: float, patience_seconds: float, target_seconds: float
) -> ErlangAResult:
    """Erlang A (M/M/n+M) KPIs for a given number of agents.

    The stationary distribution of the birth-death chain (birth rate lambda, death rate
    min(k, n) mu + max(k - n, 0) theta) is summed in log space over the states that carry all but
    1e-18 of the mass; the service level uses the exact distribution of the time to answer (see
    ``docs/erlang.md``).

    Args:
        agents: Number of agents (>= 1).
        calls_per_hour: Offered calls per hour (> 0).
        aht_seconds: Average handling time in seconds (> 0).
        patience_seconds: Mean (exponential) patience in seconds (> 0); ``math.inf`` gives Erlang C.
        target_seconds: Answer-time target of the service level in seconds (>= 0).

    Returns:
        An :class:`ErlangAResult`.

    Raises:
        ValueError: on invalid input; with infinite patience, also when Erlang C is unstable.
    """
    n = _count(agents, "agents", 1)
    a = offered_traffic(calls_per_hour, aht_seconds)
    aht = float(aht_seconds)
    patience = _real(patience_seconds, "patience_seconds", positive=True, allow_inf=True)
    target = _real(target_seconds, "target_seconds")
    if math.isinf(patience):
        return _a_from_c(erlang_c_kpis(n, calls_per_hour, aht, target), patience)
    log_inv_b = _log_inv_b_table(n - 1, a)[n - 1]
    log_e = math.log(n) - math.log(a) + log_inv_b
    with np.errstate(under="ignore"):
        core = _erlang_a_core(n, a, aht / patience, target / aht, log_e)
    return _a_result(n, a, core, float(calls_per_hour), aht, patience, target)


def agents_for_service_level_a(
    calls_per_hour: float,
    aht_seconds: float,
    patience_seconds: float,
    target_seconds: float,
    service_level: float,
) -> ErlangAResult:
    """Fewest agents whose Erlang A service level (share of ALL offered calls answered within the
    target) reaches ``service_level``.

    The service level rises with n and cannot exceed n / A (agents serve at most n calls per AHT), so
    the search gallops up from ceil(service_level x A) and then bisects: about 2 log2(answer)
    evaluations.

    Args:
        calls_per_hour: Offered calls per hour (> 0).
        aht_seconds: Average handling time in seconds (> 0).
        patience_seconds: Mean patience in seconds (> 0); ``math.inf`` gives Erlang C sizing.
        target_seconds: Answer-time target in seconds (>= 0).
        service_level: Required share, strictly between 0 and 1.

    Returns:
        The :class:`ErlangAResult` of the smallest n meeting the target.

    Raises:
        ValueError: on invalid input or if more than :data:`MAX_AGENTS` agents would be needed.
    """
    a = offered_traffic(calls_per_hour, aht_seconds)
    aht = float(aht_seconds)
    patience = _real(patience_seconds, "patience_seconds", positive=True, allow_inf=True)
    target = _real(target_seconds, "target_seconds")
    goal = _probability_target(service_level)
    if math.isinf(patience):
        return _a_from_c(agents_for_service_level_c(calls_per_hour, aht, target, goal), patience)
    gamma = aht / patience
    tau = target / aht
    cph = float(calls_per_hour)
    table: list[float] = [0.0]  # log(1 / B(k, a)), grown on demand
    log_a = math.log(a)
    cache: dict[int, _ACore] = {}

    def evaluate(n: int) -> _ACore:
        if n not in cache:
            while len(table) < n:
                k = len(table)
                x = math.log(k) - log_a + table[-1]
                table.append(x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x)))
            log_e = math.log(n) - log_a + table[n - 1]
            cache[n] = _erlang_a_core(n, a, gamma, tau, log_e)
        return cache[n]

    with np.errstate(under="ignore"):
        low = max(math.ceil(goal * a) - 1, 0)  # fails: SL <= P(answered) <= n / A < goal (or n = 0)
        step = max(1, math.ceil(math.sqrt(a)))
        high = low + step
        while evaluate(high).sl_all < goal:
            low = high
            step *= 2
            high = low + step
            if high > MAX_AGENTS:
                raise ValueError(f"service level {goal} needs more than {MAX_AGENTS} agents")
        while high - low > 1:
            mid = (low + high) // 2
            if evaluate(mid).sl_all >= goal:
                high = mid
            else:
                low = mid
        return _a_result(high, a, evaluate(high), cph, aht, patience, target)


# ---------------------------------------------------------------------------------------------------
# Presentation


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f}%"


def _secs(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.1f} s"


def format_result(result: ErlangCResult | ErlangAResult) -> str:
    """A short human-readable multi-line summary of an Erlang C or Erlang A result.

    Args:
        result: An :class:`ErlangCResult` or :class:`ErlangAResult`.

    Returns:
        Lines without a trailing newline: model, load, agents, P(wait), service level, ASA, occupancy
        (and for Erlang A abandonment, the answered-only service level and the mean wait of all calls).
    """
    if not isinstance(result, ErlangCResult | ErlangAResult):
        raise TypeError(f"expected ErlangCResult or ErlangAResult, got {type(result).__name__}")
    target = f"{result.target_seconds:g} s"
    if isinstance(result, ErlangAResult):
        patience = "infinite" if math.isinf(result.patience_seconds) else f"{result.patience_seconds:g} s"
        head = f"Erlang A (M/M/n+M), mean patience {patience}"
    else:
        head = "Erlang C (M/M/n)"
    lines = [
        head,
        f"  load:           {result.calls_per_hour:,.6g} calls/h x {result.aht_seconds:g} s AHT = "
        f"{result.traffic:,.2f} Erlangs",
        f"  agents:         {result.agents:,}",
        f"  P(wait):        {_pct(result.p_wait)}",
    ]
    if isinstance(result, ErlangAResult):
        lines += [
            f"  abandoned:      {_pct(result.p_abandon)}",
            f"  service level:  {_pct(result.service_level)} of all calls answered within {target}"
            f" ({_pct(result.service_level_answered)} of answered calls)",
            f"  ASA:            {_secs(result.asa)} (answered calls; mean wait of all calls {_secs(result.mean_wait)})",
        ]
    else:
        lines += [
            f"  service level:  {_pct(result.service_level)} answered within {target}",
            f"  ASA:            {_secs(result.asa)}",
        ]
    lines.append(f"  occupancy:      {_pct(result.occupancy)}")
    return "\n".join(lines)
