"""compare.stats against published values and scipy: Wilson intervals, t quantiles, McNemar."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compare.stats import discordant, mcnemar, seed_interval, t_quantile_975, welch_interval, wilson

# Newcombe, "Two-sided confidence intervals for the single proportion: comparison of seven
# methods", Statistics in Medicine 17 (1998), Table II, method 3 (Wilson score, no continuity
# correction), 95%: (k, n) -> (low, high) to 4 decimals.
NEWCOMBE = {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611),
            (1, 29): (0.0061, 0.1718)}


@pytest.mark.parametrize("k,n", sorted(NEWCOMBE))
def test_wilson_matches_newcombe_table(k, n):
    lo, hi = wilson(k, n)
    assert (round(lo, 4), round(hi, 4)) == NEWCOMBE[(k, n)]


def test_wilson_950_of_1000_by_hand():
    # p = 0.95, z = 1.959964: centre (0.95 + z²/2000) / (1 + z²/1000) = 0.9482780...,
    # half-width z·sqrt(0.0475/1000 + z²/4e6) / (1 + z²/1000) = 0.0135917...
    lo, hi = wilson(950, 1000)
    assert lo == pytest.approx(0.934686, abs=1e-6) and hi == pytest.approx(0.961870, abs=1e-6)
    # symmetric: the error's interval is one minus the accuracy's
    elo, ehi = wilson(50, 1000)
    assert (elo, ehi) == pytest.approx((1 - hi, 1 - lo), abs=1e-12)


def test_wilson_rejects_bad_counts():
    for k, n in ((5, 4), (-1, 10), (1, 0), (1.5, 10)):
        with pytest.raises(ValueError, match="k"):
            wilson(k, n)


@pytest.mark.parametrize("counts, expected", [
    ((56, 70, 48, 80), (0.0524, 0.3339)),  # Newcombe 1998 (difference of proportions), Table II, example (a)
    ((9, 10, 3, 10), (0.1705, 0.8090)),   # example (b)
])
def test_newcombe_matches_the_papers_method_10(counts, expected):
    from compare.stats import newcombe

    assert tuple(round(v, 4) for v in newcombe(*counts)) == expected


def test_t_quantiles_match_scipy():
    from scipy.stats import t

    for df in (1, 2, 4, 9, 30, 31, 50, 200):
        assert t_quantile_975(df) == pytest.approx(t.ppf(0.975, df), abs=2e-6), df


def test_seed_interval():
    # 3 seeds, errors 2, 3, 4 %: mean 3, sd 1, t(0.975, 2) = 4.302653 -> 3 ± 4.302653/sqrt(3)
    lo, hi = seed_interval([0.02, 0.03, 0.04])
    half = 4.302652730 * 0.01 / math.sqrt(3)
    assert (lo, hi) == pytest.approx((0.03 - half, 0.03 + half), abs=1e-12)
    assert seed_interval([0.02]) is None


def _mean_sd(xs):
    m = sum(xs) / len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


@pytest.mark.parametrize("a, b", [
    ([0.10, 0.12, 0.14], [0.05, 0.07, 0.09]),                  # equal spreads and counts: df = 4 exactly
    ([0.02, 0.03, 0.04, 0.05, 0.06], [0.01, 0.03, 0.05, 0.07, 0.09]),  # equal counts, unequal spreads
    ([0.037, 0.041, 0.045], [0.013, 0.023, 0.033, 0.02]),      # unequal counts: df 4.50 -> 4
])
def test_welch_interval_matches_scipy(a, b):
    """scipy's Welch interval (``ttest_ind(equal_var=False)``) has fractional degrees of freedom;
    ours rounds them down: the same standard error, t at floor(df)."""
    from scipy.stats import t, ttest_ind

    r = ttest_ind(a, b, equal_var=False)
    ci = r.confidence_interval(0.95)
    se = (ci.high - ci.low) / 2 / t.ppf(0.975, r.df)
    d = (ci.high + ci.low) / 2
    half = t.ppf(0.975, math.floor(r.df + 1e-9)) * se
    got = welch_interval(*_mean_sd(a), len(a), *_mean_sd(b), len(b))
    assert got == pytest.approx((d - half, d + half), abs=1e-9)
    if r.df == round(r.df):
        assert got == pytest.approx((ci.low, ci.high), abs=1e-9)  # integral df: scipy's own interval


def test_welch_interval_needs_two_seeds_each_and_finite_spreads():
    assert welch_interval(0.1, 0.01, 1, 0.2, 0.02, 3) is None
    assert welch_interval(0.1, 0.01, 3, 0.2, 0.02, 1) is None
    assert welch_interval(0.1, math.nan, 3, 0.2, 0.02, 3) is None
    assert welch_interval(0.3, 0.0, 2, 0.1, 0.0, 4) == pytest.approx((0.2, 0.2))  # no spread: the difference


@pytest.mark.parametrize("b,c", [(10, 2), (5, 0), (25, 11), (40, 60), (3, 3), (0, 7), (100, 140), (617, 700)])
def test_mcnemar_exact_matches_scipy_binomtest(b, c):
    from scipy.stats import binomtest

    r = mcnemar(b, c)
    assert r.method == "exact" and (r.b, r.c) == (b, c)
    assert r.p_value == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-12, abs=1e-300)


def test_mcnemar_known_values_and_chi2():
    assert mcnemar(10, 2).p_value == pytest.approx(0.03857421875, abs=1e-15)  # 2·(1+12+66)/4096 = 79/2048
    assert mcnemar(10, 2).significant and not mcnemar(5, 0).significant  # 5:0 gives p = 2/32 = 0.0625
    assert mcnemar(0, 0).p_value == 1.0
    r = mcnemar(100, 140, method="chi2")  # (|100-140| - 1)² / 240 = 6.3375
    from scipy.stats import chi2

    assert r.method == "chi2" and r.statistic == pytest.approx(6.3375, abs=1e-12)
    assert r.p_value == pytest.approx(chi2.sf(6.3375, 1), rel=1e-12)
    assert mcnemar(6000, 6400).method == "chi2"  # more than 10,000 discordant pairs
    with pytest.raises(ValueError, match="method"):
        mcnemar(1, 2, method="z")


def test_discordant_counts():
    a = [True, True, False, False, True]
    b = [True, False, True, False, False]
    assert discordant(a, b) == (2, 1)
    with pytest.raises(ValueError, match="different test sets"):
        discordant(a, b[:4])


def test_holm_adjusted_p_values():
    """By hand: the main job's six raw p-values against LeNet-5 (docs/example); and, on random
    p-values, 'adjusted p < alpha' rejects exactly what Holm's step-down procedure rejects."""
    from compare.stats import holm

    raw = [1.0, 0.728, 0.143, 0.143, 0.0135, 0.0094]
    assert holm(raw) == pytest.approx([1.0, 1.0, 0.572, 0.572, 0.0675, 0.0564], abs=1e-12)
    assert holm([]) == [] and holm([0.02]) == [0.02]
    rng = np.random.default_rng(0)
    for _ in range(200):
        ps = list(rng.uniform(0, 0.1, size=int(rng.integers(1, 8))))
        for alpha in (0.01, 0.05):
            rejected, order = set(), sorted(range(len(ps)), key=lambda j: ps[j])
            for k, j in enumerate(order):  # step down: stop at the first p above alpha / (m - k)
                if ps[j] >= alpha / (len(ps) - k):
                    break
                rejected.add(j)
            assert {j for j, q in enumerate(holm(ps)) if q < alpha} == rejected
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\], got 1.5"):
        holm([0.1, 1.5])
