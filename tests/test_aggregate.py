import math

import numpy as np
import pytest
from scipy import stats

from medal.analysis.aggregate import aggregate
from medal.analysis.comparisons import merge_identical
from medal.analysis.summaries import paired_saving
from medal.analysis.tables import (
    CLASS_RECALL,
    CURVES,
    DIFFERENCES,
    PLOT,
    STOPPING,
    STOPPING_TRADEOFF,
    SUMMARY,
    SWEEPS,
    TARGETS,
)
from medal.errors import UserError
from medal.fileio import read_json, write_json_atomic, write_npz_atomic
from medal.study import Study

from conftest import stored_predictions

Y_TEST = np.array([0] * 5 + [1] * 5)  # the test labels the stored predictions are scored against


def _params():
    return {
        "study": {
            "datasets": ["d"],
            "learners": ["lr"],
            "strategies": ["random", "entropy"],
            "main_learner": "lr",
            "learner_strategies": ["random"],
            "main_seeds": 2,
        },
        "sweeps": {
            "datasets": ["d"],
            "learner": "lr",
            "strategies": ["random", "entropy"],
            "settings": {
                "batch_size": [5],
                "initial_labels": [10],
                "label_noise": [0.0, 0.2],
                "representation": {"raw": {"features": "raw"}},
                "class_weight": ["balanced", "none"],
            },
        },
        "al": {"seeds": 2, "initial_labels": 10, "budget": 30, "batch_size": 10},
        "cap_check": {"dataset": "d", "max_candidates": 3},
        "prepare": {"d": {"features": "raw"}},
        "learners": {"lr": {"estimator": "logistic_regression", "update": "fit", "class_weight": "balanced"}},
        "evaluation": {
            "primary_metric": "accuracy",
            "random_budget_fractions": [1.0],
            "target_fractions": [0.9],
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


def _run(scores, queried=()):
    cycles = [
        {
            "labels": n,
            "accuracy": s,
            "balanced_accuracy": s,
            "macro_f1": s,
            "roc_auc": s,
            "queried": list(queried),
            "kappa_previous": kappa,
            "expected_error": error,
            "class_recall": [s, 1.0],
            "test_predictions": stored_predictions(s, Y_TEST),
        }
        for n, s, kappa, error in zip([10, 20, 30], scores, [None, 0.995, 0.9], [0.3, 0.2, 0.05])
    ]
    return {"cycles": cycles}


SWEEP_CURVES = {  # (setting, value) -> strategy -> per-seed scores
    ("batch_size", "5"): {"random": [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], "entropy": [[0.5, 0.7, 0.9], [0.5, 0.6, 0.8]]},
    ("initial_labels", "10"): {"random": [[0.5, 0.5, 0.5]] * 2, "entropy": [[0.5, 0.5, 0.5]] * 2},
    ("label_noise", "0.0"): {"random": [[0.5, 0.5, 0.5]] * 2, "entropy": [[0.5, 0.5, 0.5]] * 2},
    ("label_noise", "0.2"): {"random": [[0.5, 0.5, 0.5]] * 2, "entropy": [[0.5, 0.5, 0.5]] * 2},
    ("representation", "raw"): {"random": [[0.5, 0.5, 0.5]] * 2, "entropy": [[0.5, 0.5, 0.5]] * 2},
    ("class_weight", "balanced"): {"random": [[0.5, 0.6, 0.7]] * 2, "entropy": [[0.5, 0.5, 0.5]] * 2},
    ("class_weight", "none"): {"random": [[0.5, 0.5, 0.4], [0.5, 0.4, 0.3]], "entropy": [[0.5, 0.5, 0.5]] * 2},
}


# The capped runs: flat curves, so each AULC is the curve's level; entropy gains 0.1 and 0.3 over random.
CAPPED_CURVES = {"random": [[0.5] * 3, [0.5] * 3], "entropy": [[0.6] * 3, [0.8] * 3]}


def _aggregate(root, out="agg", metrics="metrics.json"):
    aggregate(
        Study.from_params(_params()),
        root / "runs",
        root / "sweeps",
        root / "capped",
        root / "ref",
        root / "prep",
        root / "raw",
        root / out,
        root / metrics,
        root / "conclusions.json",
    )


@pytest.fixture
def study(tmp_path):
    curves = {
        "random": [[0.5, 0.7, 0.9], [0.5, 0.6, 0.8]],
        "entropy": [[0.5, 0.9, 1.0], [0.6, 0.9, 1.0]],
    }
    for strategy, runs in curves.items():
        for seed, scores in enumerate(runs):
            queried = [] if strategy == "random" else [seed]  # the two strategies query different images
            write_json_atomic(tmp_path / "runs" / "d" / strategy / f"lr-seed{seed}.json", _run(scores, queried))
    for strategy, runs in CAPPED_CURVES.items():
        for seed, scores in enumerate(runs):
            queried = [] if strategy == "random" else [seed]
            write_json_atomic(tmp_path / "capped" / "d" / strategy / f"lr-seed{seed}.json", _run(scores, queried))
    for (setting, value), by_strategy in SWEEP_CURVES.items():
        for strategy, runs in by_strategy.items():
            for seed, scores in enumerate(runs):
                write_json_atomic(
                    tmp_path / "sweeps" / "d" / setting / strategy / value / f"{strategy}-seed{seed}.json", _run(scores)
                )
    reference = [
        {"accuracy": 1.0, "roc_auc": 0.9, "balanced_accuracy": 0.8, "class_recall": [0.9, 0.7]},
        {"accuracy": 1.0, "roc_auc": 0.8, "balanced_accuracy": 0.7, "class_recall": [0.7, 0.7]},
    ]
    write_json_atomic(tmp_path / "ref" / "d.json", {"learners": {"lr": reference}})
    write_npz_atomic(tmp_path / "prep" / "d.npz", {"y_pool": np.array([0, 0, 0, 1, 1]), "y_test": Y_TEST})
    write_json_atomic(tmp_path / "raw" / "d.json", {"shape": [28, 28]})
    _aggregate(tmp_path)
    return tmp_path


def test_summary_by_hand(study):
    rows = {r["strategy"]: r for r in SUMMARY.read(study / "agg")}
    # AULC of [0.5, 0.7, 0.9] over 10..30 = (0.6 + 0.8) / 2 = 0.7; of [0.5, 0.6, 0.8] = 0.625.
    assert rows["random"]["aulc"] == pytest.approx(0.6625)
    target_list = TARGETS.read(study / "agg")
    assert {r["target"] for r in target_list} == {"90", "random_100"}
    targets = {r["strategy"]: r for r in target_list if r["target"] == "90"}
    assert targets["random"]["goal"] == pytest.approx(0.9) and targets["random"]["above_initial"] == 1
    # Target 0.9: random reaches it at 30 in seed 0 only; entropy at 20 in both seeds. Seed 1 of random
    # is censored (more than the budget of 30), so random's median is beyond the budget, not 30.
    assert targets["random"]["reached"] == 1 and targets["random"]["labels"] == math.inf
    assert targets["entropy"]["reached"] == 2 and targets["entropy"]["labels"] == 20
    # Saving is paired on all seeds, an unreached run counted as one batch past the budget (40): seed 0
    # saves 30 - 20 = 10, seed 1 at least 40 - 20 = 20 (a bound); median 15; 30 / 70 of what random needed.
    assert targets["entropy"]["saving"] == 15 and targets["entropy"]["saving_bounded"] == 1
    assert targets["entropy"]["saving_pct"] == pytest.approx(3000 / 70, abs=1e-5)
    # Per-seed AULC differences entropy - random: 0.825 - 0.7 = 0.125 and 0.85 - 0.625 = 0.225: mean 0.175,
    # SD 0.1 / sqrt 2, so the paired t = 0.175 / (0.1 / 2) = 3.5 with one degree of freedom; one comparison,
    # so Holm leaves it. The exact two-sided Wilcoxon p-value with two pairs is 2 * (1/4).
    assert rows["entropy"]["difference"] == pytest.approx(0.175)
    assert rows["entropy"]["p_t"] == pytest.approx(2 * stats.t.sf(3.5, 1), abs=1e-6)
    assert rows["entropy"]["p_holm"] == rows["entropy"]["p_t"]
    assert rows["entropy"]["p_wilcoxon"] == pytest.approx(0.5)
    # Within the 0.01 margin? The mean is 0.175: the equivalence test cannot support that.
    assert rows["entropy"]["p_tost"] > 0.5
    assert rows["entropy"]["mde"] > 0.175  # two seeds detect only huge effects with 80 % power
    assert math.isnan(rows["random"]["p_wilcoxon"]) and math.isnan(rows["random"]["p_holm"])
    # No curve of the fixture ever falls: no drops.
    assert rows["random"]["drops"] == 0 and rows["random"]["largest_drop"] == 0
    friedman = read_json(study / "agg" / "friedman.json")["strategies"]
    # One test per dataset, its seeds as blocks: entropy has the higher AULC on both seeds.
    assert friedman["strategies"] == ["random", "entropy"] and friedman["blocks_of"] == "seed"
    assert friedman["datasets"]["d"]["average_ranks"] == [2.0, 1.0] and friedman["datasets"]["d"]["blocks"] == 2
    # The interval with test-set resampling: the stored predictions reproduce each cycle's accuracy, so it holds
    # the mean difference; a resample of seeds and test images cannot go beyond the per-seed extremes much.
    low, high = rows["entropy"]["difference_test_low"], rows["entropy"]["difference_test_high"]
    assert 0 < low < 0.175 < high < 0.4
    assert math.isnan(rows["random"]["difference_test_low"])
    metrics = read_json(study / "metrics.json")
    assert metrics == {
        "d": {
            "reference": {"accuracy": 1.0, "roc_auc": 0.85, "balanced_accuracy": 0.75},
            "full_pool": 1.0,
            "random_aulc": 0.6625,
            "best_strategy": "entropy",
            "best_aulc": 0.8375,
            "best_gain_over_random": 0.175,
            "best_p_holm": 0.177171,  # the paired t-test above, rounded to six digits
            "flags": [],
            # The main target is random's mean score at the budget, (0.9 + 0.8) / 2: random's seed 0 reaches it at
            # 30, seed 1 never (censored: the median of two lies beyond the budget); entropy reaches it at 20 on
            # both seeds, so it saves 30 - 20 = 10 and at least 40 - 20 = 20: median 15, no CI with two seeds.
            "main_target": "random_100",
            "main_target_score": 0.85,
            "random_labels_to_main_target": None,
            "best_labels_saved": 15.0,
            "best_labels_saved_low": None,
            "best_labels_saved_high": None,
        }
    }


def test_curves_and_plot_data(study):
    curve = [r for r in CURVES.read(study / "agg") if r["strategy"] == "random" and r["metric"] == "accuracy"]
    assert [r["mean"] for r in curve] == pytest.approx([0.5, 0.65, 0.85])
    plot = PLOT.read(study / "agg" / "plots", "d__lr.csv")
    assert {r["strategy"] for r in plot} == {"random", "entropy"} and len(plot) == 6


def test_outputs_are_byte_identical_when_rebuilt(study):
    before = (study / "agg" / "summary.csv").read_bytes()
    _aggregate(study)
    assert (study / "agg" / "summary.csv").read_bytes() == before


def test_missing_run_names_the_stage_to_rerun(study):
    (study / "runs" / "d" / "entropy" / "lr-seed1.json").unlink()
    with pytest.raises(UserError, match=r"lr-seed1.json missing; run `dvc repro al@d` first"):
        _aggregate(study, "agg2", "m.json")


def test_a_reference_built_for_fewer_seeds_names_the_stage_to_rerun(study):
    # e.g. `dvc repro -s aggregate` after raising the seeds: the runs have three seeds, the whole-pool file two
    path = study / "ref" / "d.json"
    reference = read_json(path)
    reference["learners"]["lr"] = reference["learners"]["lr"][:1]
    write_json_atomic(path, reference)
    with pytest.raises(UserError, match=r"d.json holds 1 seeds of lr and the study runs 2; .*`dvc repro reference@d`"):
        _aggregate(study, "agg2", "m.json")
    assert not (study / "agg2").exists()


def test_a_missing_reference_names_the_stage_to_rerun(study):
    (study / "ref" / "d.json").unlink()
    with pytest.raises(UserError, match=r"d.json missing; run `dvc repro reference@d` first"):
        _aggregate(study, "agg2", "m.json")


def test_same_queries_groups_strategies_that_chose_identical_images(study):
    from medal.analysis.comparisons import same_queries

    assert same_queries({"a": ((1, 2),), "b": ((1, 2),), "c": ((2, 1),)}) == [["a", "b"]]
    assert read_json(study / "agg" / "identical.json") == {"d": {"lr": []}}  # they queried different images


def test_paired_saving_keeps_unreached_seeds_as_bounds():
    # With 60 labels past the budget: differences 30-20 = 10, 60-10 = 50 (random unreached: at least),
    # 50-60 = -10 (strategy unreached: at most), 60-60 = 0 (neither).
    (median, low, high), percent, bounded = paired_saving([30, None, 50, None], [20, 10, None, None], 60)
    assert (median, bounded) == (5, 3) and math.isnan(low) and math.isnan(high)  # four pairs: too few for a 95 % CI
    assert percent == pytest.approx(100 * 50 / 200)
    # Ratio of totals, not a mean of per-seed percentages: ((10-20) + (100-80) + (40-40)) / (10+100+40) = 10/150.
    _, percent, bounded = paired_saving([10, 100, 40], [20, 80, 40], 60)
    assert percent == pytest.approx(100 * (-10 + 20 + 0) / 150) and bounded == 0


def test_queried_class_shares_exclude_the_initial_set():
    from medal.analysis.summaries import queried_class_shares

    y_pool = np.array([0, 0, 0, 1, 1])
    runs = [
        {"cycles": [{"queried": [0, 3]}, {"queried": [1]}, {"queried": [4]}]},  # queried classes 0, 1 -> 1/2 each
        {"cycles": [{"queried": [0, 3]}, {"queried": [1, 2]}]},  # classes 0, 0 -> all class 0
    ]
    assert queried_class_shares(runs, y_pool, 2) == pytest.approx([0.75, 0.25])


def test_stopping_points_by_hand(study):
    rows = {(r["strategy"], r["criterion"]): r for r in STOPPING.read(study / "agg")}
    # Kappa series [-, 0.995, 0.9] with kappa 0.99 and window 1: every run stops at cycle 1 (20 labels),
    # where random scored 0.7 and 0.6 against a full-pool score of 1.0.
    stable = rows[("random", "stabilizing_predictions")]
    assert stable["stopped"] == 2 and stable["labels"] == 20
    assert stable["score"] == pytest.approx(0.65) and stable["percent_of_full"] == pytest.approx(65)
    # Expected error [0.3, 0.2, 0.05] first falls to 0.1 or below at the last cycle: no run stops before the budget.
    confident = rows[("entropy", "expected_error")]
    assert confident["stopped"] == 0 and confident["labels"] == 30 and confident["score"] == 1.0


def test_class_recall_at_the_budget(study):
    rows = [r for r in CLASS_RECALL.read(study / "agg") if r["strategy"] == "random"]
    # The fixture's class-0 recall is the final score (0.9, 0.8); class 1 is always 1.0; full pool 0.8 and 0.7.
    assert [r["recall"] for r in rows] == pytest.approx([0.85, 1.0])
    assert [r["full_pool"] for r in rows] == pytest.approx([0.8, 0.7])
    # Two seeds: the t interval of class 0's recall, 0.85 +- 12.7 x 0.05, would reach 1.49; a recall cannot pass 1.
    assert rows[0]["recall_high"] == 1.0 and 0.2 < rows[0]["recall_low"] < 0.22
    curve = [r for r in CURVES.read(study / "agg") if r["strategy"] == "random" and r["metric"] == "accuracy"]
    assert all(0 <= r["ci_low"] <= r["mean"] <= r["ci_high"] <= 1 for r in curve if r["ci_low"] == r["ci_low"])


def test_sweep_summary_pairs_by_seed(study):
    rows = {(r["setting"], r["value"], r["strategy"]): r for r in SWEEPS.read(study / "agg")}
    entropy = rows[("batch_size", "5", "entropy")]
    # AULCs 0.7 and 0.625 against random's 0.5: differences 0.2 and 0.125.
    assert entropy["aulc"] == pytest.approx(0.6625) and entropy["vs_random"] == pytest.approx(0.1625)
    # Paired t with differences 0.2 and 0.125: mean 0.1625, SD 0.075 / sqrt 2, t = 0.1625 / 0.0375.
    assert entropy["p_t"] == pytest.approx(2 * stats.t.sf(0.1625 / 0.0375, 1), abs=1e-6)
    assert math.isnan(rows[("batch_size", "5", "random")]["vs_random"])
    assert {key[:2] for key in rows} == {
        ("batch_size", "5"),
        ("initial_labels", "10"),
        ("label_noise", "0.0"),
        ("label_noise", "0.2"),
        ("representation", "raw"),
        ("class_weight", "balanced"),
        ("class_weight", "none"),
    }


def test_the_cap_check_compares_each_condition_with_random_under_the_same_cap(study):
    from medal.analysis.tables import CAPPED

    rows = {(r["max_candidates"], r["strategy"]): r for r in CAPPED.read(study / "agg")}
    assert set(rows) == {("none", "random"), ("none", "entropy"), ("3", "random"), ("3", "entropy")}
    capped = rows[("3", "entropy")]
    # Flat curves at 0.6 and 0.8 against random's 0.5: differences 0.1 and 0.3, mean 0.2; t = 0.2 / 0.1 on 1 df;
    # one comparison, so Holm leaves p as it is.
    assert capped["aulc"] == pytest.approx(0.7) and capped["vs_random"] == pytest.approx(0.2)
    assert capped["p_holm"] == pytest.approx(2 * stats.t.sf(0.2 / 0.1, 1), abs=1e-6)
    assert capped["seeds"] == 2 and math.isnan(rows[("3", "random")]["vs_random"])
    # The main experiment's runs of the same seeds: entropy's AULCs 0.825 and 0.85 against random's 0.7 and 0.625.
    assert rows[("none", "entropy")]["vs_random"] == pytest.approx(np.mean([0.825 - 0.7, 0.85 - 0.625]))
    conclusions = read_json(study / "conclusions.json")
    assert conclusions["decisions"]["capped/d/3/entropy"] == "not significant"  # two seeds cannot show it
    assert conclusions["numbers"]["capped_vs_random/d/3/entropy"][0] == pytest.approx(0.2)


def test_a_missing_capped_run_names_its_stage(study):
    (study / "capped" / "d" / "entropy" / "lr-seed0.json").unlink()
    with pytest.raises(UserError, match=r"lr-seed0.json missing; run `dvc repro capped` first"):
        _aggregate(study, "agg3", "m3.json")


def test_class_weight_effect_at_the_initial_labels_and_the_budget(study):
    from medal.analysis.tables import CLASS_WEIGHT

    rows = {
        (r["strategy"], r["class_weight"], r["labels"]): r
        for r in CLASS_WEIGHT.read(study / "agg")
        if r["metric"] == "accuracy"
    }
    # Random with balanced weights: 0.7 on both seeds at the budget; unweighted: 0.4 and 0.3, mean 0.35.
    assert rows[("random", "balanced", 30)]["mean"] == pytest.approx(0.7)
    assert rows[("random", "none", 30)]["mean"] == pytest.approx(0.35)
    assert rows[("random", "none", 10)]["mean"] == pytest.approx(0.5)
    low, high = rows[("random", "none", 30)]["mean_low"], rows[("random", "none", 30)]["mean_high"]
    assert low < 0.35 < high


def test_sweep_p_values_are_holm_adjusted_within_one_setting():
    from medal.analysis.sweeps import _holm_within_settings

    rows = [{"dataset": "d", "setting": "batch_size", "strategy": "entropy", "p_t": p} for p in (0.01, 0.04, 0.03)]
    rows += [
        {"dataset": "d", "setting": "label_noise", "strategy": "entropy", "p_t": 0.01},
        {"dataset": "d", "setting": "label_noise", "strategy": "random", "p_t": math.nan, "p_holm": math.nan},
    ]
    _holm_within_settings(rows)
    # Family of three: 3 * 0.01, then max(0.03, 2 * 0.03) = 0.06, then max(0.06, 1 * 0.04) = 0.06.
    assert [r["p_holm"] for r in rows[:3]] == pytest.approx([0.03, 0.06, 0.06])
    assert rows[3]["p_holm"] == pytest.approx(0.01) and math.isnan(rows[4]["p_holm"])


def test_a_strategy_that_queried_the_same_images_is_compared_and_ranked_once():
    from medal.analysis.comparisons import compare_with_baseline, distinct, duplicates_of

    assert duplicates_of([["lc", "margin", "entropy"]]) == {"margin": "lc", "entropy": "lc"}
    summaries = {
        "random": {"per_seed_aulc": [0.5, 0.6, 0.55]},
        "lc": {"per_seed_aulc": [0.6, 0.7, 0.66]},
        "margin": {"per_seed_aulc": [0.6, 0.7, 0.66]},
        "coreset": {"per_seed_aulc": [0.52, 0.58, 0.56]},
    }
    alone = compare_with_baseline({k: summaries[k] for k in ("random", "lc", "coreset")}, 0.01)
    merged = compare_with_baseline(summaries, 0.01, {"margin": "lc"})
    # Margin takes LC's results, and Holm's family stays {LC, Core-Set}: the same adjusted p-values.
    assert merged["margin"] == merged["lc"] == alone["lc"] and merged["coreset"] == alone["coreset"]
    # Ranked once only where identical on every block (dataset), under the first strategy's name.
    assert distinct(["random", "lc", "margin"], [{"margin": "lc"}, {"margin": "lc"}]) == (
        ["random", "lc"],
        {"lc": ["margin"]},
    )
    assert distinct(["random", "lc", "margin"], [{"margin": "lc"}, {}]) == (["random", "lc", "margin"], {})


def test_differences_from_random_are_paired_by_seed(study):
    rows = DIFFERENCES.read(study / "agg")
    # Entropy minus random per seed: labels 10: 0 and 0.1; 20: 0.2 and 0.3; 30: 0.1 and 0.2.
    assert [(r["strategy"], r["labels"]) for r in rows] == [("entropy", 10), ("entropy", 20), ("entropy", 30)]
    assert [r["mean"] for r in rows] == pytest.approx([0.05, 0.25, 0.15])
    half = stats.t.ppf(0.975, 1) * 0.1 / np.sqrt(2) / np.sqrt(2)  # SD of two differences 0.1 apart: 0.1 / sqrt 2
    assert rows[1]["ci_high"] - 0.25 == pytest.approx(half, abs=1e-6)


def test_identical_learners_count_as_one_block_in_the_learner_ranking():
    from medal.analysis.comparisons import friedman_over_learners

    study = {"datasets": ["d"], "learners": ["a", "b", "c"], "learner_strategies": ["random", "entropy", "margin"]}
    values = {"a": (0.7, 0.8, 0.6), "b": (0.7, 0.8, 0.6), "c": (0.6, 0.9, 0.7)}  # b repeats a exactly
    rows = [
        {"dataset": "d", "learner": learner, "strategy": s, "aulc": v, "aulc_sd": 0.01, "final": v}
        for learner, aulcs in values.items()
        for s, v in zip(study["learner_strategies"], aulcs)
    ]
    result = friedman_over_learners(study, rows)
    assert result["merged_learners"] == {"a": ["b"]} and result["blocks"] == 2
    # learner_datasets null, as params.yaml may set it: every dataset
    assert friedman_over_learners({**study, "learner_datasets": None}, rows) == result


def test_stopping_tradeoff_by_hand(study):
    rows = {(r["criterion"], r["threshold"]): r for r in STOPPING_TRADEOFF.read(study / "agg")}
    # Every fixture run has expected errors 0.3, 0.2, 0.05 at 10, 20, 30 labels and kappas -, 0.995, 0.9.
    # Threshold 0.3: all four runs (2 strategies x 2 seeds) stop at the first cycle, with 10 labels.
    assert rows[("expected_error", 0.3)]["stopped"] == 4 and rows[("expected_error", 0.3)]["labels"] == 10
    # Threshold 0.1 is first met at the budget: no run stops early, so there is no mean.
    assert rows[("expected_error", 0.1)]["stopped"] == 0 and math.isnan(rows[("expected_error", 0.1)]["labels"])
    # Kappa 0.99 for one cycle: met at the second cycle (20 labels), scores there over the full pool (1.0).
    kappa = rows[("stabilizing_predictions", 0.99)]
    assert kappa["stopped"] == 4 and kappa["labels"] == 20 and kappa["runs"] == 4
    # At 20 labels random scores 0.7 and 0.6, entropy 0.9 and 0.9 (full pool 1.0): 77.5 % on average.
    assert kappa["percent_of_full"] == pytest.approx(77.5)


def test_merge_identical_keeps_the_first_of_each_signature_in_order():
    results = {"a": 1, "b": 2, "c": 1, "d": 3, "e": 2, "f": 1}
    assert merge_identical("abcdef", results.get) == (["a", "b", "d"], {"a": ["c", "f"], "b": ["e"]})
    assert merge_identical([], results.get) == ([], {})
