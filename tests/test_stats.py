"""Bootstrap intervals and the paired randomization test (core.stats), and where the evaluation
commands report them (classify.evaluation.score_kind, index.evaluation.add_uncertainty)."""

from __future__ import annotations

import numpy as np
import pytest

from classify.evaluation import report_json, score_kind
from core.stats import bootstrap_interval, bootstrap_intervals, format_p_value, mean_interval, paired_comparison
from index.evaluation import add_uncertainty


def test_a_mean_interval_holds_the_mean_and_narrows_with_more_items():
    rng = np.random.default_rng(1)
    few, many = rng.uniform(0, 1, 15), rng.uniform(0, 1, 600)
    low, high = mean_interval(few)
    assert low < few.mean() < high
    wide = high - low
    low, high = mean_interval(many)
    assert low < many.mean() < high
    assert high - low < wide / 3  # about 1/sqrt(40) of it: the width falls as 1/sqrt(n)


def test_intervals_are_repeatable_and_degenerate_samples_give_a_point():
    values = [0.2, 0.9, 0.4, 0.7, 1.0, 0.0, 0.55]
    assert mean_interval(values) == mean_interval(values)  # seeded
    assert mean_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert mean_interval([0.25]) == (0.25, 0.25)


def test_several_statistics_share_one_set_of_resamples():
    values = np.random.default_rng(3).uniform(0, 1, 25)
    both = bootstrap_intervals(25, lambda idx: (values[idx].mean(), values[idx].max()))
    assert both == [mean_interval(values), bootstrap_interval(25, lambda idx: values[idx].max())]
    assert both[1][1] == round(values.max(), 4)


@pytest.mark.parametrize("n, confidence", [(0, 0.95), (3, 1.0), (3, 0.0)])
def test_a_bootstrap_without_items_or_with_a_bad_confidence_is_refused(n, confidence):
    with pytest.raises(ValueError):
        bootstrap_interval(n, lambda idx: float(len(idx)), confidence=confidence)


def test_a_consistent_gain_on_eight_queries_has_the_exact_sign_flip_p_value():
    # 2**8 = 256 arrangements, all enumerated: only "all +" and "all -" are as extreme as observed
    a, b = [0.9] * 8, [0.8] * 8
    compared = paired_comparison(a, b)
    assert compared.difference == 0.1 and compared.items == 8
    assert compared.p_value == pytest.approx(2 / 256, abs=1e-4)
    assert compared.ci95 == (0.1, 0.1)


def test_gains_and_losses_that_cancel_are_not_significant():
    a = [0.9, 0.1, 0.9, 0.1, 0.6, 0.4]
    b = [0.1, 0.9, 0.1, 0.9, 0.4, 0.6]
    compared = paired_comparison(a, b)
    assert compared.difference == 0.0 and compared.p_value == 1.0
    low, high = compared.ci95
    assert low < 0 < high
    assert paired_comparison([0.3, 0.3], [0.3, 0.3]).p_value == 1.0


def test_one_item_is_compared_without_a_test_to_run():
    # break-it: one judged query and two modes was a scipy ValueError (a traceback in eval search)
    compared = paired_comparison([0.9], [0.4])
    assert compared.difference == 0.5 and compared.ci95 == (0.5, 0.5) and compared.p_value == 1.0
    out = add_uncertainty({"bm25": _figures({"q1": 0.4}), "hybrid": _figures({"q1": 0.9})})
    assert out["hybrid"]["vs"]["bm25"] == {"ndcg@10_difference": 0.5, "ci95": [0.5, 0.5], "p_value": 1.0}


def test_paired_scores_must_cover_the_same_items():
    with pytest.raises(ValueError, match="same items"):
        paired_comparison([1.0, 0.5], [1.0])
    with pytest.raises(ValueError, match="at least one"):
        paired_comparison([], [])


def test_classification_metrics_carry_intervals_that_hold_the_point_figures():
    gold = [frozenset({"P1"}), frozenset({"P2"}), frozenset({"P1", "P3"}), frozenset()] * 5
    predicted = [frozenset({"P1"}), frozenset({"P1"}), frozenset({"P3"}), frozenset({"P2"})] * 5
    metrics = score_kind(gold, predicted, ["P1", "P2", "P3"], intervals=True)
    # P1: 5 tp, 5 fp, 5 fn -> F1 0.5; P2: 0 tp -> 0; P3: 5 tp -> 1; pooled 10 / 10 / 10 -> 0.5
    assert metrics.micro_f1 == 0.5 and metrics.macro_f1 == 0.5
    assert metrics.micro_f1_ci95[0] <= metrics.micro_f1 <= metrics.micro_f1_ci95[1]
    assert metrics.macro_f1_ci95[0] <= metrics.macro_f1 <= metrics.macro_f1_ci95[1]
    assert metrics.micro_f1_ci95[0] < metrics.micro_f1_ci95[1]
    figures = report_json({"policy_areas": metrics})["policy_areas"]
    assert figures["micro_f1_ci95"] == list(metrics.micro_f1_ci95)
    assert "micro_f1_ci95" not in report_json({"t": score_kind(gold, predicted, ["P1"])})["t"]
    perfect = score_kind(gold, gold, ["P1", "P2", "P3"], intervals=True)
    assert perfect.micro_f1_ci95 == (1.0, 1.0) and perfect.macro_f1_ci95 == (1.0, 1.0)


def _figures(per_query: dict[str, float]) -> dict:
    return {"ndcg@10": round(sum(per_query.values()) / len(per_query), 4), "recall@100": 1.0,
            "queries": len(per_query),
            "per_query": {q: {"ndcg@10": v, "recall@100": 1.0} for q, v in per_query.items()}}


def test_retrieval_modes_are_compared_query_by_query_with_the_modes_before_them():
    report = {"bm25": _figures({f"q{i}": 0.5 for i in range(8)}),
              "semantic": _figures({f"q{i}": 0.5 for i in range(8)}),
              "hybrid": _figures({f"q{i}": 0.75 for i in range(8)})}
    out = add_uncertainty(report)
    assert "vs" not in report["hybrid"]  # the input is not changed
    assert "vs" not in out["bm25"] and set(out["semantic"]["vs"]) == {"bm25"}
    assert set(out["hybrid"]["vs"]) == {"bm25", "semantic"}
    assert out["hybrid"]["vs"]["bm25"] == {"ndcg@10_difference": 0.25, "ci95": [0.25, 0.25],
                                           "p_value": pytest.approx(2 / 256, abs=1e-4)}
    assert out["semantic"]["vs"]["bm25"]["p_value"] == 1.0
    assert out["hybrid"]["ndcg@10_ci95"] == [0.75, 0.75] and out["hybrid"]["recall@100_ci95"] == [1.0, 1.0]


def test_modes_scored_on_different_queries_are_not_compared():
    with pytest.raises(ValueError, match="different queries"):
        add_uncertainty({"bm25": _figures({"q1": 1.0}), "hybrid": _figures({"q2": 1.0})})


def test_p_values_too_small_to_resolve_are_not_printed_as_zero():
    assert format_p_value(0.00005) == "< 0.001" and format_p_value(0.256) == "0.256"
