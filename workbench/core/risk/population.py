"""Population uniqueness: the Pitman, Zayatz and SNB models and Dankar's decision rule, as ARX computes them.

Each model estimates how many population records are unique from the sample's class-size histogram, the sample
size ``n`` and the population size ``N`` (ARX's ``ARXPopulationModel``: ``N = round(n / f)`` for a sampling fraction
``f``). The formulas, start values and solver settings are those of ARX's ``ModelPitman``, ``ModelZayatz``,
``ModelSNB`` and ``RiskModelPopulationUniqueness``, including their arithmetic quirks (SNB's estimate of the number
of non-empty classes subtracts 1 per class size, as ARX's code does). Java's doubles give NaN or infinity where
Python raises; :func:`_jpow`, :func:`_jexp`, :func:`_jlog` and :func:`_jgamma` return what Java would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.core.risk.solver import Master, SolverConfig, digamma, solve_newton_2d, trigamma

__all__ = [
    "PopulationUniqueness",
    "dankar",
    "hypergeometric_p1",
    "pitman",
    "population_size_for",
    "population_uniqueness",
    "snb",
    "zayatz",
]


def population_size_for(sample_size: int, sampling_fraction: float) -> int:
    """ARX's population size for a sampling fraction: ``Math.round(n / f)``."""
    if not 0.0 < sampling_fraction <= 1.0:
        raise ValueError(f"the sampling fraction must be in (0, 1], got {sampling_fraction}")
    return int(math.floor(sample_size / sampling_fraction + 0.5))


def _jpow(base: float, exponent: float) -> float:
    if base == 0.0 and exponent < 0.0:
        return math.inf
    try:
        return math.pow(base, exponent)
    except ValueError:
        return math.nan
    except OverflowError:
        return math.inf


def _jexp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _jlog(x: float) -> float:
    if math.isnan(x) or x < 0.0:
        return math.nan
    return -math.inf if x == 0.0 else math.log(x)


def _jgamma(x: float) -> float:
    try:
        return math.gamma(x)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def _jlog_gamma(x: float) -> float:
    """commons-math's ``Gamma.logGamma``: NaN for x <= 0."""
    return math.nan if math.isnan(x) or x <= 0.0 else math.lgamma(x)


def _count_of_size(sizes: np.ndarray, counts: np.ndarray, size: int) -> float:
    hit = np.nonzero(sizes == size)[0]
    return float(counts[hit[0]]) if hit.size else 0.0


# --- Pitman -----------------------------------------------------------------------------------------------------


def _pitman_closed(sizes: np.ndarray, counts: np.ndarray, u: float, n: float) -> Master:
    others = [(int(s), int(c)) for s, c in zip(sizes, counts, strict=True) if s != 1]

    def master(t: float, a: float) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
        val0 = u - 1.0
        val1 = digamma(val0 + t / a + 1.0)
        val2 = trigamma((a + t + a * val0) / a)
        val3 = trigamma(t / a + 1.0)
        val4 = digamma(t / a + 1.0)
        val5 = a * a
        d1 = (val3 - val2) / val5
        d5 = ((a * val1 + t * val2) - a * val4 - t * val3) / (val5 * a)
        d3 = ((((val5 * val0) - t * t * val2) + t * t * val3) - 2.0 * a * t * val1 + 2.0 * a * t * val4) / (val5 * val5)
        o1 = (val1 - val4) / a
        o3 = (-t * val1 + a * val0 + t * val4) / (a * a)
        o2 = digamma(n + t) - digamma(t + 1.0)
        d2 = trigamma(t + 1.0) - trigamma(n + t)
        d4 = 0.0
        o4 = 0.0
        val6 = digamma(1.0 - a)
        val7 = trigamma(1.0 - a)
        for key, value in others:
            d4 += value * (val7 - trigamma(key - a))
            o4 += value * (digamma(key - a) - val6)
        return (o1 - o2, o3 - o4), (d2 - d1, 0.0 - d5, 0.0 - d5, 0.0 - d3 - d4)

    return master


def _pitman_iterative_terms(
    sizes: np.ndarray, counts: np.ndarray, u: float, n: float, t: float, a: float
) -> tuple[float, ...]:
    """The sums of ARX's iterative Pitman functions (sequential sums, as Java adds them)."""
    with np.errstate(all="ignore"):
        i = np.arange(1, int(math.ceil(u)), dtype=np.float64)
        val0 = t + i * a
        val1 = 1.0 / val0
        val3 = 1.0 / (val0 * val0)
        o1, o3 = _last(np.cumsum(val1)), _last(np.cumsum(i * val1))
        d1, d5, d3 = _last(np.cumsum(val3)), _last(np.cumsum(i * val3)), _last(np.cumsum(i * i * val3))
        max_key = int(sizes.max()) if sizes.size else 1
        j = np.arange(1, max(max_key, 1), dtype=np.float64)
        jm = j - a
        inv, inv2 = np.cumsum(1.0 / jm), np.cumsum(1.0 / (jm * jm))
        d4 = o4 = 0.0
        for key, value in zip(sizes, counts, strict=True):
            if key != 1:
                d4 += float(value) * float(inv2[key - 2])
                o4 += float(value) * float(inv[key - 2])
        m = np.arange(1, int(math.ceil(n)), dtype=np.float64) + t
        o2, d2 = _last(np.cumsum(1.0 / m)), _last(np.cumsum(1.0 / (m * m)))
    return o1, o2, o3, o4, d1, d2, d3, d4, d5


def _last(values: np.ndarray) -> float:
    return float(values[-1]) if values.size else 0.0


def _pitman_iterative(sizes: np.ndarray, counts: np.ndarray, u: float, n: float) -> Master:
    def master(t: float, a: float) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
        o1, o2, o3, o4, d1, d2, d3, d4, d5 = _pitman_iterative_terms(sizes, counts, u, n, t, a)
        return (o1 - o2, o3 - o4), (d2 - d1, 0.0 - d5, 0.0 - d5, 0.0 - d3 - d4)

    return master


def _pitman_result(t: float, a: float, population: float) -> float:
    if math.isnan(a) or math.isnan(t) or a == 0.0:
        return math.nan
    val1 = _jexp(_jlog_gamma(t + 1.0) - _jlog_gamma(t + a)) * _jpow(population, a)
    val1 = val1 if 0.0 <= val1 <= population else math.nan
    with np.errstate(all="ignore"):
        val2 = float(np.float64(_jgamma(t + 1.0)) / np.float64(_jgamma(t + a)) * _jpow(population, a))
    val2 = val2 if 0.0 <= val2 <= population else math.nan
    if math.isnan(val1):
        return val2
    if math.isnan(val2):
        return val1
    return max(val1, val2)


def pitman(sizes: np.ndarray, counts: np.ndarray, population: float, config: SolverConfig | None = None) -> float:
    """ARX's ``ModelPitman``: the estimated number of population uniques (NaN when the solver finds no root)."""
    config = config or SolverConfig()
    c1 = _count_of_size(sizes, counts, 1)
    c2 = _count_of_size(sizes, counts, 2)
    u = float(counts.sum())
    n = float((sizes * counts).sum())
    c2 = c2 if c2 != 0 else 1.0
    c = (c1 * (c1 - 1)) / c2
    t = ((n * u * c) - (c1 * (n - 1) * ((2 * u) + c))) / (((2 * c1 * u) + (c1 * c)) - (n * c))
    a = ((t * (c1 - n)) + ((n - 1) * c1)) / (n * u)
    theta_positive = lambda x, y: x >= 0  # noqa: E731 - ARX's only constraint
    result = solve_newton_2d(_pitman_closed(sizes, counts, u, n), (t, a), config, theta_positive)
    iterative = _pitman_iterative(sizes, counts, u, n)
    if math.isnan(result[0]) or math.isnan(result[1]):
        result = solve_newton_2d(iterative, (t, a), config, theta_positive)
    else:
        check, _ = iterative(*result)
        if any(math.isnan(v) or abs(v) > config.accuracy for v in check):
            result = solve_newton_2d(iterative, (t, a), config, theta_positive)
    return _pitman_result(result[0], result[1], population)


# --- Zayatz -----------------------------------------------------------------------------------------------------


def hypergeometric_p1(population: int, successes: np.ndarray, draws: int) -> np.ndarray:
    """P(X = 1) for X ~ Hypergeometric(population, successes, draws), one per entry of ``successes``.

    ``K * C(N-K, n-1) / C(N, n) = K n prod_{j<K-1}(N-n-j) / prod_{i<K}(N-i)``, summed in logs (exact products,
    no large factorials); 0 outside the support.
    """
    k = np.asarray(successes, dtype=np.int64)
    big_n, n = int(population), int(draws)
    max_k = int(k.max()) if k.size else 1
    with np.errstate(divide="ignore", invalid="ignore"):
        num = np.concatenate([[0.0], np.cumsum(np.log(np.maximum(big_n - n - np.arange(max_k), 0).astype(float)))])
        den = np.concatenate([[0.0], np.cumsum(np.log((big_n - np.arange(max_k)).astype(float)))])
        logp = np.log(k.astype(float)) + math.log(n) + num[k - 1] - den[k]
    p = np.exp(logp)
    p[(k - 1 > big_n - n) | (k > big_n) | (k < 1)] = 0.0
    return p


def zayatz(sizes: np.ndarray, counts: np.ndarray, population: float) -> float:
    """ARX's ``ModelZayatz``: the estimated number of population uniques."""
    n = float((sizes * counts).sum())
    u = float(counts.sum())
    big_n = min(int(population), 2**31 - 1)
    draws = min(int(n), 2**31 - 1)
    c1 = float(counts[0]) if sizes.size and sizes[0] == 1 else 0.0
    probabilities = hypergeometric_p1(big_n, sizes, draws)
    temp = 0.0
    for count, p in zip(counts, probabilities, strict=True):  # ARX's order of summation
        temp += (float(count) / u) * float(p)
    p_unique = float(hypergeometric_p1(big_n, np.array([1]), draws)[0])
    uniqueness = ((c1 / u) * p_unique) / temp if temp else math.nan
    return _count_of_size(sizes, counts, 1) * uniqueness / (n / population)


# --- SNB --------------------------------------------------------------------------------------------------------


def _snb_nonempty_classes(sizes: np.ndarray, counts: np.ndarray, u: float, c1: float, f: float) -> float:
    var1 = var2 = var3 = var4 = 0.0
    var5 = f * f
    for size, count in zip(sizes, counts, strict=True):
        val0, val1 = float(size), float(count)
        val2 = _jpow(1 - f, val0) * val1
        var1 += val0 * var5 * _jpow(1 - var5, val0 - 1) * val1
        var2 += val2 * _jpow(1 + f, val0) - 1  # ARX subtracts 1 per class size
        var3 += val2
        var4 += val0 * f * _jpow(1 - f, val0 - 1) * val1
    return u + c1 * (var1 / var2) * (var3 / var4) * (var3 / var4)


def _snb_master(k: float, f: float, c1: float, c2: float) -> Master:
    def master(a: float, b: float) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
        dividend = (1 - f) * (1 - b)
        o1 = k * f * _jpow(b / (1 - dividend), a) * (((a * dividend) / (1 - dividend)) + 1) - c1
        o2 = k * a * _jpow(b, a) * (f * f) * (1 - b) / 2 * _jpow(1 - dividend, a + 2) * (2 - (1 - a) * dividend) - c2
        val0 = (b - 1.0) * (f - 1.0)
        val1 = val0 - 1.0
        val2 = 1.0 - val0
        val3 = a * val0 / val1 - 1.0
        val4 = _jpow(-b / val1, a)
        val6 = _jpow(f, 2.0)
        val7 = _jpow(b, a)
        val9 = a * val7 * val6 * k
        val10 = 2.0 * _jpow(val2, a + 2.0)
        val11 = _jpow(val1, 2.0)
        val13, val14, val15, val16 = f * k, f - 1.0, a - 1.0, b - 1.0
        val17 = val15 * val0
        val18 = val6 * k
        val19 = val17 + 2.0
        val20 = val18 * val19
        x1 = -val13 * _jlog(-b / val1) * val3 * val4 - (val13 * val4 * val0) / val1
        x2 = a * val13 * (1.0 / val1 - (b * val14) / val11) * val3 * _jpow(-b / val1, val15) - val13 * val4 * (
            (a * val14) / val1 - (a * val16 * _jpow(val14, 2.0)) / val11
        )
        y1 = (
            (val9 * _jlog(val2) * val19 * val16) / val10
            - (val9 * _jpow(val16, 2.0) * val14) / val10
            - (val7 * val20 * val16) / val10
            - (a * val7 * val18 * _jlog(b) * val19 * val16) / val10
        )
        y2 = (
            -(val9 * val19) / val10
            - (_jpow(a, 2.0) * _jpow(b, val15) * val20 * val16) / val10
            - (a * val7 * val18 * val17) / val10
            - (a * val7 * val20 * (a + 2.0) * val0) / (2.0 * _jpow(val2, a + 3.0))
        )
        return (o1, o2), (x1, x2, y1, y2)

    return master


def snb(sizes: np.ndarray, counts: np.ndarray, population: float, config: SolverConfig | None = None) -> float:
    """ARX's ``ModelSNB``: the estimated number of population uniques (NaN when the solver finds no root)."""
    config = config or SolverConfig()
    n = float((sizes * counts).sum())
    f = n / population
    c1 = _count_of_size(sizes, counts, 1)
    c2 = _count_of_size(sizes, counts, 2)
    k = _snb_nonempty_classes(sizes, counts, float(counts.sum()), c1, f)
    a, b = solve_newton_2d(_snb_master(k, f, c1, c2), (1.0, 1.0), config)
    return k * _jpow(b, a)


# --- Dankar's decision rule -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PopulationUniqueness:
    """Estimated population uniques (counts of records) and fractions of the population, per model.

    ``pitman``/``zayatz``/``snb`` are ``None`` when the decision rule did not need them; a model whose solver found
    no root reports 0 (ARX's convention) and ``dankar_model`` names the model the rule chose.
    """

    population_size: int
    sampling_fraction: float
    pitman: float | None
    zayatz: float | None
    snb: float | None
    dankar: float
    dankar_model: str

    def fraction(self, value: float | None) -> float | None:
        return None if value is None else value / self.population_size

    def as_dict(self) -> dict[str, object]:
        return {
            "population_size": self.population_size,
            "sampling_fraction": self.sampling_fraction,
            "pitman": self.fraction(self.pitman),
            "zayatz": self.fraction(self.zayatz),
            "snb": self.fraction(self.snb),
            "dankar": self.fraction(self.dankar),
            "dankar_model": self.dankar_model,
        }


def _valid(value: float) -> bool:
    return not math.isnan(value) and value != 0.0


def dankar(
    sizes: np.ndarray, counts: np.ndarray, population: float, config: SolverConfig | None = None
) -> tuple[float, str, float | None, float | None, float | None]:
    """Dankar et al.'s rule as ARX applies it: Pitman for f <= 0.1 (Zayatz when Pitman fails), else the smaller
    of Zayatz and SNB (Zayatz when SNB fails). Returns (uniques, model, pitman, zayatz, snb), None = not computed."""
    f = float((sizes * counts).sum()) / population
    if _count_of_size(sizes, counts, 1) == 0:
        return 0.0, "DANKAR", 0.0, 0.0, 0.0
    if f <= 0.1:
        p = pitman(sizes, counts, population, config)
        if _valid(p):
            return p, "PITMAN", p, None, None
        z = zayatz(sizes, counts, population)
        return (z if _valid(z) else 0.0), "ZAYATZ", p, z, None
    s = snb(sizes, counts, population, config)
    z = zayatz(sizes, counts, population)
    if _valid(s):
        value, model = (z, "ZAYATZ") if z < s else (s, "SNB")
    else:
        value, model = z, "ZAYATZ"
    return (value if _valid(value) else 0.0), model, None, z, s


def population_uniqueness(
    sizes: np.ndarray,
    counts: np.ndarray,
    *,
    population_size: int | None = None,
    sampling_fraction: float | None = None,
    all_models: bool = True,
    config: SolverConfig | None = None,
) -> PopulationUniqueness:
    """Population uniqueness for a class-size histogram: give the population size or the sampling fraction.

    With ``all_models`` every model is computed (for display), not only the ones Dankar's rule needs.
    """
    n = int((sizes * counts).sum())
    if population_size is None:
        population_size = population_size_for(n, 0.1 if sampling_fraction is None else sampling_fraction)
    if population_size < n:
        raise ValueError(f"the population ({population_size}) is smaller than the sample ({n} records)")
    value, model, p, z, s = dankar(sizes, counts, float(population_size), config)
    if all_models and _count_of_size(sizes, counts, 1) != 0:
        p = pitman(sizes, counts, float(population_size), config) if p is None else p
        z = zayatz(sizes, counts, float(population_size)) if z is None else z
        s = snb(sizes, counts, float(population_size), config) if s is None else s

    def shown(v: float | None) -> float | None:
        return None if v is None else (v if _valid(v) else 0.0)

    return PopulationUniqueness(population_size, n / population_size, shown(p), shown(z), shown(s), value, model)
