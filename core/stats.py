"""How far an evaluation figure can be trusted: bootstrap confidence intervals and paired tests.

The hub's gold sets are small (77 labelled documents, 17 judged queries): a figure measured on them
moves a lot with the sample. These functions say how much, with scipy's implementations of the
standard methods:

- :func:`bootstrap_interval`: the percentile bootstrap (Efron & Tibshirani 1993, "An Introduction
  to the Bootstrap", ch. 13) of any statistic of ``n`` items (documents, queries), items drawn
  with replacement (``scipy.stats.bootstrap``). Percentile, not BCa: a macro-F1 over labels that a
  resample may lack is often degenerate, where BCa gives no interval.
- :func:`paired_comparison`: the difference of two systems' means over the same items, its
  bootstrap interval and the two-sided p-value of the paired randomization (sign-flip) test, the
  test Smucker, Allan & Carterette (2007, "A comparison of statistical significance tests for
  information retrieval evaluation", CIKM) recommend for IR (``scipy.stats.permutation_test``
  with ``permutation_type="samples"``; exact when the ``2**n`` sign flips are few enough).

Everything is seeded (``seed``), so a figure printed twice is the same figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000
"""Bootstrap resamples: enough for a 95% interval to two decimals (Efron & Tibshirani, ch. 19)."""
PERMUTATIONS = 20000
"""Randomization-test resamples when the exact test (``2**n`` sign flips) would need more."""


class PairedComparison(BaseModel):
    """System A against system B on the same items: ``difference`` = mean(A) - mean(B), its
    ``ci95`` (bootstrap, [low, high]) and ``p_value`` (paired randomization test, two-sided), over
    ``items`` items."""

    difference: float
    ci95: tuple[float, float]
    p_value: float
    items: int


def bootstrap_intervals(n: int, statistics: Callable[[np.ndarray], Sequence[float]], *,
                        confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                        seed: int = 0) -> list[tuple[float, float]]:
    """Percentile bootstrap intervals of several statistics of the same resamples of ``n`` items:
    ``statistics`` receives an int array of ``n`` item indices (0 .. n-1, drawn with replacement)
    and returns k floats, e.g. the micro- and macro-F1 of those documents. Returns k ``(low, high)``
    pairs rounded to 4 places; ``(v, v)`` for ``n == 1`` (one item cannot vary). Raises ValueError
    when ``n < 1`` or ``confidence`` is not in (0, 1)."""
    if n < 1:
        raise ValueError("a bootstrap interval needs at least one item")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    if n == 1:
        return [(round(float(v), 4), round(float(v), 4)) for v in statistics(np.zeros(1, dtype=int))]
    result = stats.bootstrap((np.arange(n),), lambda idx: np.asarray(statistics(idx), dtype=float), vectorized=False,
                             paired=False, confidence_level=confidence, n_resamples=resamples,
                             method="percentile", random_state=np.random.default_rng(seed))
    lows, highs = (np.atleast_1d(end) for end in result.confidence_interval)
    return [(round(float(low), 4), round(float(high), 4)) for low, high in zip(lows, highs)]


def bootstrap_interval(n: int, statistic: Callable[[np.ndarray], float], **kwargs) -> tuple[float, float]:
    """Percentile bootstrap interval of one statistic (a float of the resampled item indices);
    arguments and errors as for :func:`bootstrap_intervals`."""
    return bootstrap_intervals(n, lambda idx: [statistic(idx)], **kwargs)[0]


def mean_interval(values: Sequence[float], **kwargs) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (e.g. per-query nDCG@10); keyword
    arguments as for :func:`bootstrap_interval`. Raises ValueError for no values."""
    array = np.asarray(values, dtype=float)
    return bootstrap_interval(len(array), lambda idx: array[idx].mean(), **kwargs)


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a - b, axis=axis)


def paired_comparison(a: Sequence[float], b: Sequence[float], *, seed: int = 0) -> PairedComparison:
    """Compare two systems scored on the same items (``a[i]`` and ``b[i]`` are one query's scores
    under systems A and B): mean difference A - B, its bootstrap interval over items and the
    two-sided p-value of the paired randomization test (each item's pair swapped or not; exact
    below ``PERMUTATIONS`` arrangements; exactly 1 for a single item), at 95% confidence. Raises
    ValueError when the lengths differ or are 0."""
    a_values, b_values = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a_values) != len(b_values):
        raise ValueError(f"paired scores need the same items: {len(a_values)} against {len(b_values)}")
    if not len(a_values):
        raise ValueError("a paired comparison needs at least one item")
    differences = a_values - b_values
    interval = mean_interval(differences, seed=seed)
    if np.allclose(differences, 0.0) or len(differences) == 1:
        p_value = 1.0  # nothing differs, or one item: both arrangements are as extreme as observed
    else:
        test = stats.permutation_test((a_values, b_values), _mean_difference, permutation_type="samples",
                                      vectorized=True, n_resamples=PERMUTATIONS, alternative="two-sided",
                                      random_state=np.random.default_rng(seed))
        p_value = float(test.pvalue)
    return PairedComparison(difference=round(float(differences.mean()), 4), ci95=interval,
                            p_value=round(p_value, 4), items=len(a_values))


def format_p_value(p: float) -> str:
    """A p-value for a table: three decimals, or ``< 0.001`` below that (a randomization test of
    ``PERMUTATIONS`` resamples cannot resolve smaller values; "0.000" would read as impossible)."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
