import pytest

from medal.analysis.checks import (
    ABOVE_REFERENCE,
    RANDOM_DECREASES,
    TARGET_BELOW_INITIAL,
    above_reference,
    curve_flags,
    random_decrease,
    target_flags,
)
from medal.analysis.metrics import METRIC_NAMES
from medal.design import SWEEP_SETTINGS
from medal.study import Study


def _runs(curves, labels=(10, 20, 30)):
    return [
        {"cycles": [{"labels": n, **{m: s for m in METRIC_NAMES}} for n, s in zip(labels, scores)]} for scores in curves
    ]


def test_a_random_curve_that_falls_beyond_its_interval_is_flagged_with_the_paired_change():
    # Peak of the mean curve at 20 labels (0.80); every seed ends 0.05 to 0.07 lower: paired change -0.06.
    runs = _runs([[0.70, 0.80, 0.75], [0.71, 0.81, 0.74], [0.69, 0.79, 0.73]])
    found = random_decrease(runs, "roc_auc")
    assert found["labels_peak"] == 20
    assert found["peak"] == pytest.approx(0.80) and found["final"] == pytest.approx(0.74)
    assert found["change"] == pytest.approx(-0.06) and found["change_high"] < 0


def test_a_rising_curve_or_a_fall_within_the_noise_is_not_flagged():
    assert random_decrease(_runs([[0.5, 0.6, 0.7], [0.5, 0.6, 0.8]]), "roc_auc") is None
    # The mean peaks at 20 and ends lower, but one seed rises: the paired change's interval includes zero.
    assert random_decrease(_runs([[0.5, 0.8, 0.6], [0.5, 0.6, 0.7], [0.5, 0.7, 0.69]]), "roc_auc") is None


def test_a_strategy_above_the_whole_pool_score_is_flagged_where_its_lower_bound_clears_it():
    runs = _runs([[0.80, 0.92, 0.90], [0.81, 0.93, 0.91], [0.80, 0.92, 0.90]])
    found = above_reference(runs, 0.88, "roc_auc")
    assert found["labels"] == 20 and found["mean"] == pytest.approx(0.923333, abs=1e-6) and found["low"] > 0.88
    assert above_reference(runs, 0.95, "roc_auc") is None
    # The mean lies above the reference but its interval reaches below it: not flagged.
    assert above_reference(_runs([[0.80, 0.99, 0.9], [0.80, 0.85, 0.9]]), 0.9, "roc_auc") is None


def test_curve_flags_name_the_dataset_metric_and_strategy():
    falling = _runs([[0.70, 0.80, 0.75], [0.71, 0.81, 0.74], [0.69, 0.79, 0.73]])
    high = _runs([[0.80, 0.95, 0.96], [0.81, 0.96, 0.97], [0.80, 0.95, 0.96]])
    reference = [{"roc_auc": 0.9}] * 3
    flags = curve_flags("d", {"random": falling, "entropy": high}, reference, "roc_auc")
    kinds = {(f["flag"], f["metric"], f.get("strategy")) for f in flags}
    assert {(RANDOM_DECREASES, m, None) for m in METRIC_NAMES} <= kinds  # random's fall on every metric
    assert (ABOVE_REFERENCE, "roc_auc", "entropy") in kinds and all(f["dataset"] == "d" for f in flags)


def test_targets_the_initial_labels_reach_are_flagged():
    rows = [
        {"strategy": "random", "target": "random_100", "goal": 0.9, "above_initial": 1},
        {"strategy": "random", "target": "95", "goal": 0.8, "above_initial": 0},
        {"strategy": "entropy", "target": "95", "goal": 0.8, "above_initial": 0},
    ]
    assert target_flags("d", "roc_auc", rows) == [
        {"flag": TARGET_BELOW_INITIAL, "dataset": "d", "metric": "roc_auc", "target": "95", "goal": 0.8}
    ]


def test_target_goals_by_hand():
    from medal.analysis.summaries import FULL_POOL_TARGET, RANDOM_TARGET, Target, target_goals

    random = _runs([[0.5, 0.6, 0.8], [0.5, 0.7, 0.9]], labels=(10, 20, 30))
    reference = [{"roc_auc": 1.0}, {"roc_auc": 0.9}]
    targets = [Target(RANDOM_TARGET, 0.5), Target(RANDOM_TARGET, 1.0), Target(FULL_POOL_TARGET, 0.9)]
    goals = target_goals(targets, random, reference, "roc_auc", budget=30)
    # Half the budget (15 labels) is first reached at 20 labels: random's mean there is 0.65; at 30, 0.85.
    assert goals["random_50"] == pytest.approx([0.65, 0.65]) and goals["random_100"] == pytest.approx([0.85, 0.85])
    assert goals["90"] == pytest.approx([0.9, 0.81])  # 90 % of each seed's whole-pool score
    assert set(target_goals(targets, None, reference, "roc_auc", 30)) == {"90"}  # no random runs: no random targets


def test_target_text_names_the_label_count_or_the_share():
    from medal.analysis.summaries import FULL_POOL_TARGET, RANDOM_TARGET, Target, target_text

    al = {"initial_labels": 10, "batch_size": 10, "budget": 250}
    assert target_text(Target(RANDOM_TARGET, 1.0), al) == "random sampling's mean score at 250 labels"
    # The first label count at or above 0.75 x 250 = 187.5 is 190.
    assert target_text(Target(RANDOM_TARGET, 0.75), al) == "random sampling's mean score at 190 labels"
    assert target_text(Target(FULL_POOL_TARGET, 0.95), al) == "95 % of the full-pool score"


def test_the_study_value_of_each_sweep_setting(params):
    from medal.analysis.checks import study_value

    params["al"].update(batch_size=10, initial_labels=10)
    params["al"].pop("label_noise", None)
    params["sweeps"]["learner"] = "logreg"
    params["learners"]["logreg"]["class_weight"] = "balanced"
    params["prepare"]["d"] = {"features": "raw"}
    params["sweeps"]["settings"]["representation"] = {"hog": {"features": "hog"}, "pixels": {"features": "raw"}}
    values = {s: study_value(Study.from_params(params), "d", s) for s in SWEEP_SETTINGS}
    assert values == {
        "batch_size": 10,
        "initial_labels": 10,
        "label_noise": 0.0,
        "representation": "pixels",
        "class_weight": "balanced",
    }
    params["prepare"]["d"] = {"features": "pca", "pca_components": 7}
    assert (
        study_value(Study.from_params(params), "d", "representation") is None
    )  # no swept representation is the study's


def test_a_sweep_at_the_study_value_is_recognised_as_a_repeat_of_the_main_runs_or_not(params, tmp_path):
    from medal.analysis.checks import sweep_repeats
    from medal.design import run_path, sweep_run_path
    from medal.fileio import write_json_atomic

    params["study"].update(main_learner="logreg", strategies=["random", "entropy"])
    params["sweeps"].update(datasets=["d"], learner="logreg", strategies=["random", "entropy"])
    params["sweeps"]["settings"] = {**params["sweeps"]["settings"], "batch_size": [5, params["al"]["batch_size"]]}
    params["sweeps"]["settings"]["representation"] = {}
    params["sweeps"]["settings"]["initial_labels"] = [params["al"]["initial_labels"] + 1]  # no study value swept
    params["sweeps"]["settings"]["label_noise"] = [0.3]
    params["sweeps"]["settings"]["class_weight"] = ["none"]
    params["learners"]["logreg"]["class_weight"] = "balanced"
    for strategy in ("random", "entropy"):
        for seed in range(params["al"]["seeds"]):
            cycles = [{"labels": 4, "queried": [seed]}]
            write_json_atomic(tmp_path / "runs" / run_path("d", strategy, "logreg", seed), {"cycles": cycles})
            if strategy == "entropy" and seed == 1:
                cycles = [{"labels": 4, "queried": [99]}]  # one run of the sweep queried another image
            path = sweep_run_path("d", "batch_size", strategy, params["al"]["batch_size"], seed)
            write_json_atomic(tmp_path / "sweeps" / path, {"cycles": cycles})
    rows = sweep_repeats(Study.from_params(params), tmp_path / "runs", tmp_path / "sweeps")
    assert [(r["setting"], r["strategy"], r["same"]) for r in rows] == [
        ("batch_size", "random", True),
        ("batch_size", "entropy", False),
    ]
