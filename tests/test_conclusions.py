"""Conclusion-level reproduction: what holds across BLAS platforms and what counts as a changed conclusion."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from medal.analysis.aggregate import aggregate
from medal.analysis.conclusions import compare_conclusions, conclusion_report, friedman_decisions, holm_decision, sign
from medal.fileio import read_json, write_json_atomic, write_npz_atomic
from medal.study import Study

from conftest import stored_predictions

Y_TEST = np.array([0, 1] * 50)  # the test labels the stored predictions are scored against

SEEDS = 8
LABELS = [10, 20, 30, 40]
SETTINGS = {
    "batch_size": [5],
    "initial_labels": [10],
    "label_noise": [0.0],
    "representation": {"raw": {"features": "raw"}},
    "class_weight": ["balanced"],
}


def _params() -> dict:
    return {
        "study": {
            "datasets": ["d"],
            "learners": ["lr"],
            "strategies": ["random", "entropy", "margin"],
            "main_learner": "lr",
            "learner_strategies": ["random"],
            "main_seeds": SEEDS,
        },
        "sweeps": {"datasets": ["d"], "learner": "lr", "strategies": ["random", "entropy"], "settings": SETTINGS},
        "al": {"seeds": SEEDS, "initial_labels": LABELS[0], "budget": LABELS[-1], "batch_size": 10},
        "cap_check": {"dataset": "d", "max_candidates": 3},
        "prepare": {"d": {"features": "raw"}},
        "learners": {"lr": {"estimator": "logistic_regression", "update": "fit", "class_weight": "balanced"}},
        "evaluation": {
            "primary_metric": "accuracy",
            "random_budget_fractions": [1.0],
            "target_fractions": [0.8],
            "drop_threshold": 0.05,
            "minimal_important_difference": {"aulc": 0.01, "labels_saved_percent": 10},
            "stopping": {"stabilizing_predictions": {"kappa": 0.99, "window": 1}, "expected_error": {"threshold": 0.1}},
            "stopping_thresholds": {"stabilizing_predictions": [0.9, 0.99], "expected_error": [0.1, 0.3]},
            "test_bootstrap": {"resamples": 200, "random_state": 0},
            "across_datasets": {"probability": 0.95, "samples": 2000, "prior_strength": 1.0, "random_state": 0},
        },
        # Sections the aggregate does not read, which every study sets.
        "select": {"datasets": [], "learner": "lr", "folds": 2, "random_state": 0, "grid": {}},
        "strategies": {"random": {"method": "random"}, "entropy": {"method": "entropy"}},
        "datasets": {"d": {"source": "npz"}},
        "data": {"mirror_dirs": []},
        "paper": {"renderer": "pandoc"},
    }


def _run(scores: list[float], queried: list[int]) -> dict:
    return {
        "cycles": [
            {
                "labels": n,
                "accuracy": s,
                "balanced_accuracy": s,
                "macro_f1": s,
                "roc_auc": s,
                "queried": [q],
                "kappa_previous": None,
                "expected_error": 0.5,
                "class_recall": [s, s],
                "test_predictions": stored_predictions(s, Y_TEST),
            }
            for n, s, q in zip(LABELS, scores, queried)
        ]
    }


def _curves() -> dict[str, list[list[float]]]:
    """Per strategy and seed, the accuracy at each cycle: entropy above random on every seed (significant
    with eight seeds by the paired t-test, also after Holm over two strategies), margin about level with random."""
    rng = np.random.default_rng(0)
    base = np.array([0.5, 0.6, 0.7, 0.75])
    random = [list(base + rng.uniform(-0.03, 0.03, 4)) for _ in range(SEEDS)]
    return {
        "random": random,
        "entropy": [list(np.array(r) + [0, 0.1, 0.1, 0.08] + rng.uniform(0, 0.02, 4)) for r in random],
        "margin": [list(np.array(r) + (-1) ** seed * rng.uniform(0, 0.02, 4)) for seed, r in enumerate(random)],
    }


def _build(root, curves) -> dict:
    for index, (strategy, runs) in enumerate(curves.items()):
        for seed, scores in enumerate(runs):
            queried = [seed, 1, 2, 3 + index]  # each strategy queries other images
            write_json_atomic(root / "runs" / "d" / strategy / f"lr-seed{seed}.json", _run(scores, queried))
            write_json_atomic(root / "capped" / "d" / strategy / f"lr-seed{seed}.json", _run(scores, queried))
            if strategy == "margin":
                continue
            for setting, values in SETTINGS.items():
                for value in values:
                    write_json_atomic(
                        root / "sweeps" / "d" / setting / strategy / str(value) / f"{strategy}-seed{seed}.json",
                        _run(scores, [seed, 1, 2, 3]),
                    )
    write_json_atomic(
        root / "ref" / "d.json",
        {
            "learners": {
                "lr": [{"accuracy": 0.9, "roc_auc": 0.9, "balanced_accuracy": 0.9, "class_recall": [0.9, 0.9]}] * SEEDS
            }
        },
    )
    write_npz_atomic(root / "prep" / "d.npz", {"y_pool": np.array([0, 1] * 10), "y_test": Y_TEST})
    write_json_atomic(root / "raw" / "d.json", {"shape": [28, 28]})
    aggregate(
        Study.from_params(_params()),
        root / "runs",
        root / "sweeps",
        root / "capped",
        root / "ref",
        root / "prep",
        root / "raw",
        root / "agg",
        root / "m.json",
        root / "conclusions.json",
    )
    return read_json(root / "conclusions.json")


@pytest.fixture
def committed(tmp_path):
    return _build(tmp_path / "committed", _curves())


def test_conclusions_hold_the_decisions_and_signs_of_the_study(committed):
    assert committed["decisions"]["holm/d/lr/entropy"] == "above random"
    assert committed["decisions"]["holm/d/lr/margin"] == "not significant"
    assert committed["signs"]["sweep_vs_random/d/batch_size/5/entropy"] == "+"
    assert committed["signs"]["saving/80/d/lr/margin"] == "0 within CI"
    assert "friedman/strategies/d" in committed["decisions"]  # one test per dataset, its seeds as blocks
    assert "critical_difference/strategies/d/random vs entropy" in committed["decisions"]
    mean, low, high = committed["numbers"]["aulc/d/lr/entropy"]
    assert low < mean < high


def test_floating_point_noise_and_a_few_diverging_runs_keep_the_conclusions(committed, tmp_path):
    curves = _curves()
    noisy = {s: [[v + 1e-12 * (i + 1) for i, v in enumerate(run)] for run in runs] for s, runs in curves.items()}
    noisy["margin"][2] = [0.5, 0.61, 0.69, 0.755]  # a run whose queries diverged: another, similar curve
    noisy["random"][4] = list(np.array(curves["random"][4]) + [0, 0.004, -0.003, 0.002])
    rebuilt = _build(tmp_path / "rebuilt", noisy)
    result = compare_conclusions(committed, rebuilt)
    assert result.hold, result.changed
    assert result.moved_within_ci > 0
    assert result.checked == sum(len(committed[kind]) for kind in ("numbers", "decisions", "signs"))
    assert conclusion_report(result).endswith("conclusions reproduced")


def test_a_tampered_run_that_flips_a_significance_mark_is_a_changed_conclusion(committed, tmp_path):
    curves = _curves()
    # Two seeds below random, by the two largest margins: p = 2 * 2 * (1 + 1 + ...)/256 > 0.05 after Holm.
    curves["entropy"][0] = list(np.array(curves["random"][0]) - 0.2)
    curves["entropy"][1] = list(np.array(curves["random"][1]) - 0.2)
    result = compare_conclusions(committed, _build(tmp_path / "tampered", curves))
    assert not result.hold
    assert "holm/d/lr/entropy: not significant (committed: above random)" in result.changed
    assert conclusion_report(result).endswith("conclusions NOT reproduced")


def test_a_number_outside_its_committed_ci_or_a_flipped_sign_is_a_change(committed):
    rebuilt = copy.deepcopy(committed)
    mean, low, high = committed["numbers"]["final/d/lr/random"]
    rebuilt["numbers"]["final/d/lr/random"] = [high + 0.01, high, high + 0.02]
    rebuilt["signs"]["sweep_vs_random/d/label_noise/0.0/entropy"] = "-"
    changed = compare_conclusions(committed, rebuilt).changed
    assert len(changed) == 2
    assert changed[0].startswith("final/d/lr/random:") and "outside the committed" in changed[0]
    assert changed[1] == "sweep_vs_random/d/label_noise/0.0/entropy: - (committed: +)"
    del rebuilt["numbers"]["aulc/d/lr/entropy"]
    assert "aulc/d/lr/entropy: missing from the rebuild" in compare_conclusions(committed, rebuilt).changed


def test_numbers_without_a_ci_must_match_up_to_rounding():
    committed = {"numbers": {"x": [0.5, math.nan, math.nan], "never": [math.nan] * 3}, "decisions": {}, "signs": {}}
    same = {"numbers": {"x": [0.5000004, math.nan, math.nan], "never": [math.nan] * 3}, "decisions": {}, "signs": {}}
    assert compare_conclusions(committed, same).hold
    other = {
        "numbers": {"x": [0.51, math.nan, math.nan], "never": [20.0, math.nan, math.nan]},
        "decisions": {},
        "signs": {},
    }
    assert len(compare_conclusions(committed, other).changed) == 2


def test_decision_helpers_by_hand():
    assert holm_decision(0.01, 0.02) == "above random" and holm_decision(0.01, -0.02) == "below random"
    assert holm_decision(0.05, 0.02) == "not significant" and holm_decision(math.nan, 1) == "not significant"
    assert [sign(v) for v in (2, -1, 0.0, math.nan)] == ["+", "-", "0", "none"]
    assert sign(2, 1, 3) == "+" and sign(-2, -3, -1) == "-" and sign(2, -1, 5) == "0 within CI"
    friedman = {
        "strategies": ["a", "b", "c"],
        "average_ranks": [1.0, 2.0, 3.0],
        "critical_difference": 1.5,
        "p_value": 0.01,
    }
    assert friedman_decisions("s", friedman) == {
        "friedman/s": "ranks differ",
        "critical_difference/s/a vs b": "not separated",
        "critical_difference/s/a vs c": "separated",
        "critical_difference/s/b vs c": "not separated",
    }


def test_the_comparison_across_datasets_is_a_conclusion(committed):
    # One image dataset: a decision per strategy, and it is "too few sets": a lead cannot be shown with one block
    # (the prior's pseudo-observation of no difference outweighs it), so equivalence is not declared either; no
    # ranking of one block.
    across = {key: value for key, value in committed["decisions"].items() if key.startswith("across/")}
    assert set(across) == {"across/entropy", "across/margin"}
    assert set(across.values()) == {"too few sets"}
    assert not any(key.startswith("friedman/across") for key in committed["decisions"])
