from medal.analysis.checks import ABOVE_REFERENCE, RANDOM_DECREASES, TARGET_BELOW_INITIAL
from medal.report.validity import class_weight_table, flags_text, prior_shift_text

PROVENANCE = {
    "p": {"title": "P", "class_names": ["normal", "pneumonia"], "counts": {"train": [26, 74], "test": [375, 625]}},
    "b": {"title": "B", "class_names": ["a", "b", "c"], "counts": {"train": [10, 30, 60], "test": [11, 29, 60]}},
}


def test_prior_shift_names_the_datasets_whose_test_set_holds_other_class_shares(params):
    params["study"]["datasets"] = ["p", "b"]
    text = prior_shift_text(params, PROVENANCE)
    assert "P's pool holds 26.0 % normal images, its test set 37.5 %" in text and "B's" not in text
    params["study"]["datasets"] = ["b"]
    assert "in about the share the pool does" in prior_shift_text(params, PROVENANCE)


def test_flags_text_gives_each_flag_with_its_numbers(params):
    params["evaluation"].update(primary_metric="roc_auc", random_budget_fractions=[1.0], target_fractions=[0.95])
    params["al"].update(initial_labels=10, batch_size=10, budget=250)
    flags = [
        {
            "flag": RANDOM_DECREASES,
            "dataset": "p",
            "metric": "balanced_accuracy",
            "labels_peak": 10,
            "peak": 0.833,
            "final": 0.813,
            "change": -0.02,
            "change_low": -0.03,
            "change_high": -0.01,
        },
        {
            "flag": ABOVE_REFERENCE,
            "dataset": "b",
            "metric": "roc_auc",
            "strategy": "typiclust",
            "labels": 40,
            "mean": 0.95,
            "low": 0.94,
            "high": 0.96,
            "reference": 0.93,
        },
        {"flag": TARGET_BELOW_INITIAL, "dataset": "p", "metric": "roc_auc", "target": "95", "goal": 0.9},
    ]
    text = flags_text(params, PROVENANCE, flags)
    primary, others = text.split("On the other metrics")
    assert "typiclust" not in others and "TypiClust scores a ROC-AUC of 0.950 [0.940, 0.960] at 40 labels" in primary
    assert "the target 95 % of the full-pool score (ROC-AUC 0.900) is reached by random sampling's initial" in primary
    assert "on P, random sampling's balanced accuracy falls from 0.833 at 10 labels to 0.813" in others
    assert "it flagged nothing" in flags_text(params, PROVENANCE, flags[:1])


def test_class_weight_table_has_both_metrics_at_the_initial_labels_and_the_budget(params):
    params["sweeps"].update(datasets=["p"], strategies=["random"], learner="logreg")
    params["sweeps"]["settings"]["class_weight"] = ["balanced", "none"]
    rows = [
        {
            "dataset": "p",
            "strategy": "random",
            "class_weight": w,
            "metric": m,
            "labels": n,
            "mean": v,
            "mean_low": v - 0.01,
            "mean_high": v + 0.01,
        }
        for w, shift in (("balanced", 0.0), ("none", -0.05))
        for m in ("balanced_accuracy", "roc_auc")
        for n, v in ((10, 0.8 + shift), (250, 0.85 + shift))
    ]
    table = class_weight_table(params, PROVENANCE, rows)
    assert "Balanced accuracy at 10 | Balanced accuracy at 250 | ROC-AUC at 10 | ROC-AUC at 250" in table
    assert "| P | Random | none | 0.750 [0.740,\u00a00.760] | 0.800 [0.790,\u00a00.810] |" in table
    assert "{#tbl-class-weight}" in table
