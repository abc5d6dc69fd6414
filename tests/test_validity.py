from medal.analysis.checks import ABOVE_REFERENCE, RANDOM_DECREASES, TARGET_BELOW_INITIAL
from medal.report.validity import class_weight_table, flags_text, prior_shift_text
from medal.study import Study

PROVENANCE = {
    "p": {"title": "P", "class_names": ["normal", "pneumonia"], "counts": {"train": [26, 74], "test": [375, 625]}},
    "b": {"title": "B", "class_names": ["a", "b", "c"], "counts": {"train": [10, 30, 60], "test": [11, 29, 60]}},
}


def test_prior_shift_names_the_datasets_whose_test_set_holds_other_class_shares(params):
    params["study"]["datasets"] = ["p", "b"]
    text = prior_shift_text(Study.from_params(params), PROVENANCE)
    assert "P's pool holds 26.0 % normal images, its test set 37.5 %" in text and "B's" not in text
    params["study"]["datasets"] = ["b"]
    assert "in about the share the pool does" in prior_shift_text(Study.from_params(params), PROVENANCE)


def test_flags_text_gives_each_flag_with_its_numbers_grouped_by_dataset(params):
    params["study"]["datasets"] = ["p", "b"]
    params["evaluation"].update(primary_metric="roc_auc", random_budget_fractions=[1.0], target_fractions=[0.9, 0.95])
    params["al"].update(initial_labels=10, batch_size=10, budget=250)
    decrease = {"labels_peak": 10, "peak": 0.833, "final": 0.813, "change": -0.02, "change_low": -0.03}
    flags = [
        {"flag": RANDOM_DECREASES, "dataset": "p", "metric": "balanced_accuracy", **decrease, "change_high": -0.01},
        *(
            {
                "flag": ABOVE_REFERENCE,
                "dataset": "b",
                "metric": "roc_auc",
                "strategy": strategy,
                "labels": 40,
                "mean": mean,
                "low": mean - 0.01,
                "high": mean + 0.01,
                "reference": 0.93,
            }
            for strategy, mean in (("typiclust", 0.95), ("entropy", 0.94))
        ),
        *(
            {"flag": TARGET_BELOW_INITIAL, "dataset": "p", "metric": "roc_auc", "target": t, "goal": 0.9}
            for t in ("90", "95")
        ),
    ]
    text = flags_text(Study.from_params(params), PROVENANCE, flags)
    primary, others = text.split("On the other metrics")
    assert (
        "on B, TypiClust and entropy score a ROC-AUC above the 0.930 of the same learner trained on the whole pool at "
        "some label count (the highest: TypiClust, 0.950 [0.940, 0.960] at 40 labels)" in primary
    )
    assert "on P, random sampling's initial labels already reach 90 % and 95 % of the full-pool score" in primary
    assert "on P, random sampling's balanced accuracy falls from 0.833 at 10 labels to 0.813" in others
    assert "\u22120.020 [\u22120.030, \u22120.010]" in others  # minus signs, not hyphens
    assert "it flagged nothing" in flags_text(Study.from_params(params), PROVENANCE, flags[:1])


def test_class_weight_table_goes_from_the_initial_labels_to_the_budget_for_both_metrics(params):
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
    table = class_weight_table(Study.from_params(params), PROVENANCE, rows)
    assert "| Strategy | Class weight | Balanced accuracy | ROC-AUC |" in table and "| **P** |" in table
    assert "| Random | none | 0.750 → 0.800 [0.790,\u00a00.810] | 0.750 → 0.800 [0.790,\u00a00.810] |" in table
    assert "{#tbl-class-weight}" in table and "initial 10 labels → at the budget of 250" in table
