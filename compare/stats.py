"""Statistics for honest comparisons: intervals on test errors, paired tests between models.

Pure Python (``math`` only), so the reports can use it without TensorFlow.

- :func:`wilson`: 95% score interval of a proportion (k errors in n test images), one seed.
  Reference: E. B. Wilson, "Probable inference, the law of succession, and statistical
  inference", JASA 22 (1927); formula as in A. Agresti, *Categorical Data Analysis*, 3rd ed.
  (2013), sec. 1.4.2: ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``.
- :func:`seed_interval`: mean ± t(0.975, s-1)·sd/sqrt(s) over s seeds (the seed spread;
  Student's t quantiles from the standard table, e.g. Agresti Table B).
- :func:`welch_interval`: the difference of two means over seeds, ± t(0.975, df)·se with Welch's
  standard error and the Welch-Satterthwaite degrees of freedom (rounded down). Reference:
  B. L. Welch, Biometrika 34 (1947); F. E. Satterthwaite, Biometrics Bulletin 2 (1946).
- :func:`mcnemar`: McNemar's test of two classifiers on the same test images, from the
  discordant counts b (A right, B wrong) and c (A wrong, B right). Exact: two-sided binomial
  test of b against Binomial(b + c, 1/2); large counts: chi-square with continuity correction
  ``(|b - c| - 1)² / (b + c)`` on 1 degree of freedom. Reference: Q. McNemar, Psychometrika 12
  (1947); Agresti sec. 11.1; T. G. Dietterich, Neural Computation 10 (1998) for its use on
  classifiers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["Z95", "ALPHA", "wilson", "wilson_rate", "newcombe", "t_quantile_975", "seed_interval", "welch_interval",
           "McNemar", "mcnemar", "discordant", "holm", "EXACT_MAX"]

Z95 = 1.959963984540054  # the standard normal's 0.975 quantile
ALPHA = 0.05
#: mcnemar(method="auto") is exact up to this many discordant pairs, chi-square above.
EXACT_MAX = 10_000

# Student's t 0.975 quantiles for 1..30 degrees of freedom (the standard table)
_T975 = (12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
         2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
         2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
         2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
         2.045229642, 2.042272456)


def _check_counts(k: int, n: int) -> None:
    for label, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or int(v) != v:
            raise ValueError(f"{label} must be an integer count, got {v!r}")
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k!r}, n={n!r}")


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for the proportion ``k / n`` (default 95%).

    >>> [round(v, 4) for v in wilson(950, 1000)]
    [0.9347, 0.9619]
    """
    _check_counts(k, n)
    p = k / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denom = 1 + z2 / n
    return max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom)


def wilson_rate(rate: float, n: int, z: float = Z95) -> tuple[float, float]:
    """:func:`wilson` for an error ``rate`` measured on ``n`` images (a mean over seeds included):
    the interval of ``round(rate * n)`` errors in ``n``."""
    return wilson(int(round(rate * n)), int(n), z)


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """95% interval ``(low, high)`` of the difference of two proportions ``k1/n1 - k2/n2`` from
    their Wilson intervals (Newcombe's hybrid score interval, method 10 of R. G. Newcombe,
    "Interval estimation for the difference between independent proportions: comparison of
    eleven methods", Statistics in Medicine 17 (1998)). For two independent samples; for rates
    measured on the same images (positively correlated) it is conservative.

    >>> [round(v, 4) for v in newcombe(56, 70, 48, 80)]
    [0.0524, 0.3339]
    """
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def t_quantile_975(df: int) -> float:
    """Student's t 0.975 quantile for ``df`` >= 1 degrees of freedom (table to 30; beyond, the
    Cornish-Fisher expansion in 1/df, within 2e-6 of the exact value)."""
    if isinstance(df, bool) or int(df) != df or df < 1:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df!r}")
    if df <= len(_T975):
        return _T975[int(df) - 1]
    z = Z95
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3


def seed_interval(values: Iterable[float]) -> tuple[float, float] | None:
    """95% interval of the mean over seeds, ``mean ± t·sd/sqrt(s)`` (sd with s - 1); None for
    fewer than two values."""
    xs = [float(v) for v in values]
    if len(xs) < 2:
        return None
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = t_quantile_975(len(xs) - 1) * sd / math.sqrt(len(xs))
    return mean - half, mean + half


def welch_interval(mean_a: float, sd_a: float, seeds_a: int, mean_b: float, sd_b: float,
                   seeds_b: int) -> tuple[float, float] | None:
    """95% interval of ``mean_a - mean_b``, two means over ``seeds_a`` and ``seeds_b`` seeds with
    standard deviations ``sd_a`` and ``sd_b`` (ddof 1): Welch's t, whose degrees of freedom
    (Welch-Satterthwaite, fractional) are rounded down, so the interval is a little wider than the
    fractional-df one, never narrower. None unless both sides have at least two seeds and finite
    spreads; ``(d, d)`` when neither mean varies between seeds."""
    if seeds_a < 2 or seeds_b < 2 or not all(map(math.isfinite, (mean_a, sd_a, mean_b, sd_b))):
        return None
    va, vb = sd_a ** 2 / seeds_a, sd_b ** 2 / seeds_b
    d = mean_a - mean_b
    if va + vb == 0:
        return d, d
    df = (va + vb) ** 2 / (va ** 2 / (seeds_a - 1) + vb ** 2 / (seeds_b - 1))
    half = t_quantile_975(max(1, math.floor(df + 1e-9))) * math.sqrt(va + vb)
    return d - half, d + half


@dataclass(frozen=True)
class McNemar:
    """Result of :func:`mcnemar`: the discordant counts, the p-value and the method used."""

    b: int
    c: int
    p_value: float
    method: str  # "exact" | "chi2"
    statistic: float | None = None  # the chi-square statistic (method "chi2")

    @property
    def significant(self) -> bool:
        """p < 0.05: the two models' error rates differ on this test set."""
        return self.p_value < ALPHA


def _binom_two_sided(b: int, n: int) -> float:
    """Two-sided exact p of ``b`` successes in ``n`` fair trials: ``min(1, 2 P(X <= min(b, n-b)))``."""
    k = min(b, n - b)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2 ** n)  # exact integers, one correctly rounded division


def mcnemar(b: int, c: int, method: str = "auto") -> McNemar:
    """McNemar's test from the discordant counts ``b`` and ``c``; ``method`` "exact", "chi2" or
    "auto" (exact up to :data:`EXACT_MAX` discordant pairs). With no discordant pair the models
    agree on every image: p = 1."""
    for label, v in (("b", b), ("c", c)):
        if isinstance(v, bool) or int(v) != v or v < 0:
            raise ValueError(f"{label} must be a count >= 0, got {v!r}")
    if method not in ("auto", "exact", "chi2"):
        raise ValueError(f"unknown method {method!r}; accepted: auto, exact, chi2")
    b, c = int(b), int(c)
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, "exact")
    if method == "exact" or (method == "auto" and n <= EXACT_MAX):
        return McNemar(b, c, _binom_two_sided(b, n), "exact")
    stat = (max(abs(b - c) - 1, 0)) ** 2 / n
    return McNemar(b, c, math.erfc(math.sqrt(stat / 2)), "chi2", stat)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest of m p-values times
    (m - i + 1), made non-decreasing, at most 1. A test is rejected at level alpha when its adjusted
    p is below alpha; the chance of any false rejection among the m is then at most alpha."""
    ps = [float(p) for p in p_values]
    for p in ps:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {p!r}")
    m = len(ps)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda j: ps[j])):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def discordant(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> tuple[int, int]:
    """``(b, c)``: images model A got right and B wrong, and the reverse (same images, same order)."""
    if len(correct_a) != len(correct_b):
        raise ValueError(f"the two models were evaluated on different test sets ({len(correct_a)} vs "
                         f"{len(correct_b)} images)")
    b = sum(1 for x, y in zip(correct_a, correct_b) if x and not y)
    c = sum(1 for x, y in zip(correct_a, correct_b) if y and not x)
    return b, c
