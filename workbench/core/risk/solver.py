"""ARX's special functions and 2-D Newton-Raphson solver, reproduced for its population-uniqueness models.

ARX (``org.deidentifier.arx.risk.Gamma``) computes digamma and trigamma with its own series; the trigamma reduces
its argument only to 8 but applies the asymptotic expansion from 12, so for a reduced argument in [8, 12) the tail
term is left out. That is ARX's arithmetic and the Pitman estimate depends on it, so it is kept here unchanged.

The solver is ``de.linearbits.newtonraphson.NewtonRaphson2D`` 0.0.1 as ARX ships it (read from its bytecode):
Newton steps ``x <- x - J^-1 f(x)`` until ``|f1|`` and ``|f2|`` are both at most the accuracy; a try ends on a
violated constraint, NaN, or after ``iterations_per_try`` steps, and the next try starts from the next of ARX's 16
prepared start values ((0, 0), (0, 0.33), ... (0.99, 0.99)); after the last start value has taken one step the
search gives up (NaN). ARX's defaults: accuracy 1e-6, 1000 iterations per try, total (16 + 1) x 1000. ARX also
stops a try after 100 ms and the search after 1 s of wall time; those limits are left out here, so that the result
does not depend on the machine's speed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SolverConfig", "digamma", "solve_newton_2d", "trigamma"]

_DIGAMMA_1 = -0.57721566490153286060651209008240243104215933593992
_TRIGAMMA_1 = math.pi * math.pi / 6.0
_TETRAGAMMA_1 = -2.0 * 1.202056903159594285399738161511449990764986292
_S3, _S4, _S5, _S6, _S7 = 1.0 / 12.0, 1.0 / 120.0, 1.0 / 252.0, 1.0 / 240.0, 1.0 / 132.0
_B2, _B4, _B6, _B8, _B10 = 1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0
_LARGE_DIGAMMA = 12.0
_LARGE_TRIGAMMA = 8.0


def digamma(x: float) -> float:
    """ARX's ``Gamma.digamma``."""
    if math.isinf(x) or math.isnan(x):
        return math.nan
    if x == 0.0:
        return -math.inf
    if x < 0.0:
        return digamma(1.0 - x) + math.pi / math.tan(-math.pi * x)
    if x <= 1e-6:
        return (_DIGAMMA_1 - 1.0 / x) + _TRIGAMMA_1 * x
    result = 0.0
    while x < _LARGE_DIGAMMA:
        result -= 1.0 / x
        x += 1
    r = 1.0 / x
    result += math.log(x) - 0.5 * r
    r *= r
    result -= r * (_S3 - r * (_S4 - r * (_S5 - r * (_S6 - r * _S7))))
    return result


def trigamma(x: float) -> float:
    """ARX's ``Gamma.trigamma`` (its tail term is applied only when the reduced argument is at least 12)."""
    if math.isinf(x) or math.isnan(x):
        return math.nan
    if x == 0.0:
        return -math.inf
    if x < 0.0:
        r = math.pi / math.sin(-math.pi * x)
        return -trigamma(1.0 - x) + r * r
    if x <= 1e-4:
        return 1.0 / (x * x) + _TRIGAMMA_1 + _TETRAGAMMA_1 * x
    result = 0.0
    while x < _LARGE_TRIGAMMA:
        result += 1.0 / (x * x)
        x += 1
    if x >= _LARGE_DIGAMMA:
        r = 1.0 / (x * x)
        result += 0.5 * r + (1.0 + r * (_B2 + r * (_B4 + r * (_B6 + r * (_B8 + r * _B10))))) / x
    return result


def _default_start_values() -> tuple[tuple[float, float], ...]:
    """ARX's ``ARXSolverConfiguration.getDefaultStartValues``: d1, d2 in 0, 0.33, 0.66, 0.99 (float steps)."""
    values = []
    d1 = 0.0
    while d1 < 1.0:
        d2 = 0.0
        while d2 < 1.0:
            values.append((d1, d2))
            d2 += 0.33
        d1 += 0.33
    return tuple(values)


@dataclass(frozen=True, slots=True)
class SolverConfig:
    """ARX's ``ARXSolverConfiguration`` defaults (deterministic start values)."""

    accuracy: float = 1e-6
    iterations_per_try: int = 1000
    start_values: tuple[tuple[float, float], ...] = _default_start_values()

    @property
    def iterations_total(self) -> int:
        return (len(self.start_values) + 1) * self.iterations_per_try


Vector = tuple[float, float]
Matrix = tuple[float, float, float, float]  # x1, x2, y1, y2 (row-major Jacobian)
Master = Callable[[float, float], tuple[Vector, Matrix]]


def _step(x: float, y: float, f: Vector, j: Matrix) -> Vector:
    """One Newton step as the library computes it: invert J by its determinant, multiply, subtract.

    A zero determinant gives an infinite inverse (Java's ``1 / 0.0``), and the step turns into inf or NaN.
    """
    x1, x2, y1, y2 = j
    det = x1 * y2 - x2 * y1
    inv = math.copysign(math.inf, det) if det == 0.0 else 1.0 / det
    i1, i2, i3, i4 = y2 * inv, -x2 * inv, -y1 * inv, x1 * inv
    dx = i1 * f[0] + i2 * f[1]
    dy = i3 * f[0] + i4 * f[1]
    return x - dx, y - dy


def solve_newton_2d(
    master: Master,
    start: Vector,
    config: SolverConfig,
    constraint: Callable[[float, float], bool] | None = None,
) -> Vector:
    """The root ARX's NewtonRaphson2D finds from ``start`` (then from its prepared start values), or (NaN, NaN).

    ``master(x, y)`` returns the object functions and the Jacobian; any arithmetic exception in it (an overflow,
    a domain error) counts as NaN, as Java's doubles would give.
    """
    starts = config.start_values
    next_start = 0
    total = 0
    first = True
    while total <= config.iterations_total:
        if first:
            x, y = start
            first = False
        else:
            x, y = starts[next_start]
            next_start += 1
        iterations = 0
        while True:
            total += 1
            try:
                f, j = master(x, y)
            except (OverflowError, ValueError, ZeroDivisionError):
                f, j = (math.nan, math.nan), (math.nan,) * 4
            if abs(f[0]) <= config.accuracy and abs(f[1]) <= config.accuracy:
                return x, y
            x, y = _step(x, y, f, j)
            if next_start == len(starts):
                return math.nan, math.nan
            if constraint is not None and not constraint(x, y):
                break
            if math.isnan(x) or math.isnan(y):
                break
            if iterations >= config.iterations_per_try:
                break
            iterations += 1
    return math.nan, math.nan
