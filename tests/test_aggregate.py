import json

import pytest

from medal.aggregate import aggregate, paired_saving, read_csv
from medal.errors import UserError
import numpy as np

from medal.fileio import read_json, write_json_atomic, write_npz_atomic


def _params():
    return {
        "study": {"datasets": ["d"], "learners": ["lr"], "strategies": ["random", "entropy"]},
        "al": {"seeds": 2},
        "evaluation": {"primary_metric": "accuracy", "target_fractions": [0.9], "drop_threshold": 0.05},
    }


def _run(scores):
    cycles = [
        {"labels": n, "accuracy": s, "balanced_accuracy": s, "macro_f1": s, "roc_auc": s, "queried": []}
        for n, s in zip([10, 20, 30], scores)
    ]
    return {"cycles": cycles}


@pytest.fixture
def study(tmp_path):
    curves = {
        "random": [[0.5, 0.7, 0.9], [0.5, 0.6, 0.8]],
        "entropy": [[0.5, 0.9, 1.0], [0.6, 0.9, 1.0]],
    }
    for strategy, runs in curves.items():
        for seed, scores in enumerate(runs):
            write_json_atomic(tmp_path / "runs" / "d" / strategy / f"lr-seed{seed}.json", _run(scores))
    write_json_atomic(tmp_path / "ref" / "d.json", {"learners": {"lr": [{"accuracy": 1.0}, {"accuracy": 1.0}]}})
    write_npz_atomic(tmp_path / "prep" / "d.npz", {"y_pool": np.array([0, 0, 0, 1, 1])})
    aggregate(_params(), tmp_path / "runs", tmp_path / "ref", tmp_path / "prep", tmp_path / "agg", tmp_path / "metrics.json")
    return tmp_path


def test_summary_by_hand(study):
    rows = {r["strategy"]: r for r in read_csv(study / "agg" / "summary.csv")}
    # AULC of [0.5, 0.7, 0.9] over 10..30 = (0.6 + 0.8) / 2 = 0.7; of [0.5, 0.6, 0.8] = 0.625.
    assert float(rows["random"]["aulc"]) == pytest.approx(0.6625)
    targets = {r["strategy"]: r for r in read_csv(study / "agg" / "targets.csv")}
    assert {r["target"] for r in targets.values()} == {"90"}
    # Target 0.9: random reaches it at 30 in seed 0 only; entropy at 20 in both seeds.
    assert targets["random"]["reached"] == "1" and float(targets["random"]["labels"]) == 30
    assert targets["entropy"]["reached"] == "2" and float(targets["entropy"]["labels"]) == 20
    # Saving is paired by seed over seeds where both reached the target: seed 0 only, 30 - 20 = 10 images,
    # 10 / 30 = 33.3 % of what random needed.
    assert float(targets["entropy"]["saving"]) == 10 and targets["entropy"]["saving_pairs"] == "1"
    assert float(targets["entropy"]["saving_pct"]) == pytest.approx(100 / 3, abs=1e-5)
    # Per-seed AULC differences entropy - random: 0.825 - 0.7 and 0.85 - 0.625, both positive:
    # the exact two-sided Wilcoxon p-value with two pairs is 2 * (1/4); one comparison, so Holm is the same.
    assert float(rows["entropy"]["p_wilcoxon"]) == pytest.approx(0.5)
    assert float(rows["entropy"]["p_holm"]) == pytest.approx(0.5)
    assert rows["random"]["p_wilcoxon"] == ""
    # No curve of the fixture ever falls: no drops.
    assert float(rows["random"]["drops"]) == 0 and float(rows["random"]["largest_drop"]) == 0
    friedman = read_json(study / "agg" / "friedman.json")
    assert friedman["strategies"] == ["random", "entropy"] and friedman["average_ranks"] == [2.0, 1.0]
    metrics = read_json(study / "metrics.json")
    assert metrics["d"]["lr"]["random"]["labels_to_90"] == 30


def test_curves_and_plot_data(study):
    curve = [r for r in read_csv(study / "agg" / "curves.csv") if r["strategy"] == "random" and r["metric"] == "accuracy"]
    assert [float(r["mean"]) for r in curve] == pytest.approx([0.5, 0.65, 0.85])
    plot = read_csv(study / "agg" / "plots" / "d__lr.csv")
    assert {r["strategy"] for r in plot} == {"random", "entropy"} and len(plot) == 6


def test_outputs_are_byte_identical_when_rebuilt(study):
    before = (study / "agg" / "summary.csv").read_bytes()
    aggregate(_params(), study / "runs", study / "ref", study / "prep", study / "agg", study / "metrics.json")
    assert (study / "agg" / "summary.csv").read_bytes() == before


def test_missing_run_names_the_stage_to_rerun(study):
    (study / "runs" / "d" / "entropy" / "lr-seed1.json").unlink()
    with pytest.raises(UserError, match=r"lr-seed1.json missing; run `dvc repro al@d-entropy` first"):
        aggregate(_params(), study / "runs", study / "ref", study / "prep", study / "agg2", study / "m.json")


def test_same_queries_groups_strategies_that_chose_identical_images(study):
    from medal.aggregate import same_queries

    assert same_queries({"a": ((1, 2),), "b": ((1, 2),), "c": ((2, 1),)}) == [["a", "b"]]
    assert read_json(study / "agg" / "identical.json") == {"d": {"lr": [["random", "entropy"]]}}  # both queried nothing


def test_paired_saving_ignores_unreached_seeds():
    (mean, _, _), percent, pairs = paired_saving([30, None, 50], [20, 10, None])
    assert (mean, pairs) == (10, 1) and percent == pytest.approx(100 / 3)
    # Ratio of totals, not a mean of per-seed percentages: ((10-20) + (100-80) + (40-40)) / (10+100+40) = 10/150.
    _, percent, _ = paired_saving([10, 100, 40], [20, 80, 40])
    assert percent == pytest.approx(100 * (-10 + 20 + 0) / 150)


def test_queried_class_shares_exclude_the_initial_set():
    from medal.aggregate import queried_class_shares

    y_pool = np.array([0, 0, 0, 1, 1])
    runs = [
        {"cycles": [{"queried": [0, 3]}, {"queried": [1]}, {"queried": [4]}]},  # queried classes 0, 1 -> 1/2 each
        {"cycles": [{"queried": [0, 3]}, {"queried": [1, 2]}]},  # classes 0, 0 -> all class 0
    ]
    assert queried_class_shares(runs, y_pool, 2) == pytest.approx([0.75, 0.25])
