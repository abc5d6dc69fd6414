from math import nan

from medal.report.power import power_table, power_text, verdict
from medal.study import Study

from conftest import aulc_row

# The provenance record of the two-class dataset "d" most tests here report on.
PROVENANCE = {"d": {"title": "D", "class_names": ["a", "b"]}}


def _row(
    strategy,
    difference,
    p_holm,
    p_tost_holm,
    mde=0.02,
    p_wilcoxon_holm=0.5,
    p_normality=0.5,
    ci=(nan, nan),
    test_ci=(nan, nan),
):
    return {
        "dataset": "d",
        "learner": "logreg",
        "strategy": strategy,
        "difference": difference,
        "difference_low": ci[0],
        "difference_high": ci[1],
        "difference_test_low": test_ci[0],
        "difference_test_high": test_ci[1],
        "p_holm": p_holm,
        "p_wilcoxon_holm": p_wilcoxon_holm,
        "p_tost_holm": p_tost_holm,
        "p_normality": p_normality,
        "mde": mde,
        "equivalence_bound": abs(difference) + 0.006 if difference == difference else nan,
    }


def test_verdicts():
    assert verdict(_row("a", 0.03, 0.01, 0.9)) == "better"
    assert verdict(_row("a", -0.03, 0.01, 0.9)) == "worse"
    assert verdict(_row("a", 0.001, 0.3, 0.01)) == "equivalent"
    assert verdict(_row("a", 0.001, 0.3, 0.2)) == "inconclusive"
    assert verdict(_row("a", 0.001, nan, nan)) == "inconclusive"  # no test possible: nothing decided


def _params(params):
    params["study"].update(datasets=["d"], strategies=["random", "entropy", "margin", "coreset"], main_learner="logreg")
    params["evaluation"]["minimal_important_difference"] = {"aulc": 0.01, "labels_saved_percent": 10}
    params["al"]["seeds"] = 10
    params["study"]["main_seeds"] = 10
    return params


SUMMARY = [
    _row("random", nan, nan, nan),
    _row(
        "entropy",
        0.03,
        0.001,
        0.9,
        mde=0.012,
        p_wilcoxon_holm=0.02,
        ci=(0.02, 0.04),
        test_ci=(0.01, 0.05),
    ),
    _row(
        "margin",
        0.002,
        0.4,
        0.003,
        mde=0.008,
        p_normality=0.01,
        ci=(-0.001, 0.005),
        test_ci=(-0.004, 0.008),
    ),
    _row("coreset", -0.004, 0.5, 0.3, mde=0.030, ci=(-0.01, 0.002), test_ci=(-0.02, 0.012)),
]


def test_power_text_counts_verdicts_and_states_what_can_be_detected(params):
    text = power_text(Study.from_params(_params(params)), PROVENANCE, SUMMARY)
    assert "The minimal important difference is 0.01 in AULC." in text
    assert "an AULC difference of a median of 0.012 (range 0.008–0.030), larger than that margin" in text
    assert "1 found the strategy better, 0 worse, 1 equivalent within ±0.01 and 1 could not decide" in text
    # Margins |difference| + 0.006: 0.036, 0.008 and 0.010; two are within the minimal important difference.
    assert (
        "could show a strategy equivalent to random sampling within a margin of ±0.010 at the median (range ±0.008 "
        "to ±0.036); 2 of the 3 comparisons are that close within ±0.01." in text
    )
    assert "doubted the normality of the differences in 1 of the 3 comparisons" in text
    assert "another decision than the t-test in 0." in text
    # Interval widths with the test set against seeds only: 0.04 / 0.02, 0.012 / 0.006 and 0.032 / 0.012.
    assert "by a median factor of 2.00 (range 2.00–2.67); of the 1 comparisons the t-test decided, 1 keep" in text


def test_without_stored_predictions_the_text_says_no_test_set_interval_was_computed(params):
    rows = [{**row, "difference_test_low": nan, "difference_test_high": nan} for row in SUMMARY]
    assert "no interval with test-set resampling is computed" in power_text(
        Study.from_params(_params(params)), PROVENANCE, rows
    )
    assert "| n/a |" in power_table(Study.from_params(_params(params)), PROVENANCE, rows)


def test_power_table_has_a_row_per_strategy_but_random(params):
    table = power_table(Study.from_params(_params(params)), PROVENANCE, SUMMARY)
    lines = table.splitlines()[3:6]  # after the header, the separator and the dataset's row
    assert "| **D** |" in table.splitlines()[2]
    assert [line.split("|")[1].strip() for line in lines] == ["Entropy", "Margin", "Core-Set"]
    assert lines[0].endswith("| ▲ |") and lines[1].endswith("| = |") and lines[2].endswith("| – |")
    assert "| 0.001 |" in lines[0] and "| [0.010,\u00a00.050] |" in lines[0] and "| ±0.036 |" in lines[0]


def test_answers_per_learner_and_target(params):
    from medal.report.conclusion import learner_answers_table, target_answers_text

    params["study"].update(
        datasets=["d"],
        strategies=["random", "entropy"],
        learners=["logreg", "gnb_refit"],
        main_learner="logreg",
        learner_strategies=["random", "entropy"],
    )
    params["evaluation"].update(target_fractions=[0.9, 0.99])
    params["evaluation"]["minimal_important_difference"] = {"aulc": 0.01, "labels_saved_percent": 10}

    summary = [
        aulc_row("random", 0.70),
        aulc_row("entropy", 0.75, 0.01),
        aulc_row("random", 0.70, learner="gnb_refit"),
        aulc_row("entropy", 0.65, 0.2, learner="gnb_refit"),
    ]
    table = learner_answers_table(Study.from_params(params), PROVENANCE, summary)
    assert "| Logistic regression (fit) | ▲ Entropy |" in table and "| Gaussian NB (fit) | none |" in table

    params["evaluation"].update(random_budget_fractions=[1.0])
    params["al"].update(initial_labels=10, batch_size=10, budget=250)

    def target(key, low, pct, above_initial=1):
        return {
            "dataset": "d",
            "learner": "logreg",
            "strategy": "entropy",
            "target": key,
            "above_initial": above_initial,
            "saving_low": low,
            "saving_pct": pct,
        }

    rows = [target("random_100", 5, 12), target("90", 5, 12, above_initial=0), target("99", 0, 3)]
    text = target_answers_text(Study.from_params(params), PROVENANCE, rows)
    assert (
        "To reach random sampling's mean score at 250 labels, the saving's interval lies above zero for entropy on D "
        "(12 %)." in text
    )
    # A target the initial labels reach counts no saving, however its interval lies.
    assert "To reach 90 % of the full-pool score, no saving's interval lies above zero." in text
    assert "To reach 99 % of the full-pool score, no saving's interval lies above zero." in text


def test_strategies_that_queried_the_same_images_appear_once_under_a_merged_name(params):
    from medal.report.savings import aulc_table

    params["study"].update(datasets=["d"], strategies=["random", "lc", "margin", "entropy"], main_learner="logreg")
    study = Study.from_params(params)
    shown = study.shown({"lc": ["margin", "entropy"]})
    assert shown.strategies == ("random", "lc") and study.strategies[2] == "margin"

    summary = [aulc_row(s, a, 0.5) for s, a in (("random", 0.7), ("lc", 0.8), ("margin", 0.8), ("entropy", 0.8))]
    table = aulc_table(shown, PROVENANCE, summary)
    assert "| Lc (= Margin, Entropy) |" in table and table.count("Margin") == 1
    # The main learner's runs use study.main_seeds, not al.seeds.
    params["study"]["main_seeds"], params["al"]["seeds"] = 20, 10
    assert "mean [95 % CI] over 20 seeds" in aulc_table(Study.from_params(params).shown({}), PROVENANCE, summary)


def test_label_table_cells_never_break_an_interval_or_a_unit():
    from medal.report.savings import unbreakable

    assert unbreakable("20 [10, 70] (3/10)") == "20 [10,\u00a070] (3/10)"
    assert unbreakable("> 250 [90, > 250]") == ">\u00a0250 [90,\u00a0>\u00a0250]"
    assert unbreakable("44 % (3/10 bounds)") == "44\u00a0% (3/10\u00a0bounds)"


def test_one_labels_table_per_target_with_the_main_one_in_the_main_text(params):
    from medal.analysis.summaries import FULL_POOL_TARGET, RANDOM_TARGET, Target
    from medal.report.savings import labels_table, labels_table_id

    params["study"].update(datasets=["d", "e"], strategies=["random", "entropy"], main_learner="logreg")
    params["evaluation"].update(target_fractions=[0.99, 0.9, 0.95], random_budget_fractions=[0.5, 1.0])
    params["al"].update(initial_labels=10, batch_size=10, budget=250)
    ninety = Target(FULL_POOL_TARGET, 0.9)
    assert labels_table_id(Study.from_params(params), Target(RANDOM_TARGET, 1.0)) == "tbl-labels"
    assert labels_table_id(Study.from_params(params), Target(RANDOM_TARGET, 0.5)) == "tbl-labels-random-50"
    assert labels_table_id(Study.from_params(params), ninety) == "tbl-labels-90"

    def row(strategy, dataset="d", above_initial=1):
        return {
            "dataset": dataset,
            "learner": "logreg",
            "strategy": strategy,
            "target": "90",
            "goal": 0.8,
            "above_initial": above_initial,
            "reached": 10,
            "seeds": 10,
            "labels": 20,
            "labels_low": 10,
            "labels_high": 70,
            "saving": 5,
            "saving_low": 0,
            "saving_high": 30,
            "saving_pct": 12,
            "saving_bounded": 0,
        }

    rows = [row("random"), row("entropy"), row("random", "e", 0), row("entropy", "e", 0)]
    table = labels_table(
        Study.from_params(params),
        {**PROVENANCE, "e": {"title": "E", "class_names": ["a", "b"]}},
        rows,
        ninety,
    )
    assert "{#tbl-labels-90}" in table and "reach 90 % of the full-pool score" in table
    # E's target is reached by the initial labels: one line says so instead of a row per strategy.
    assert "| **E** (target ROC-AUC 0.800) | reached with the initial labels: not informative |" in table
    assert table.count("| Entropy |") == 1
    assert "| Entropy | 20 [10,\u00a070] | 5 [0,\u00a030] | 12\u00a0% |" in table
    assert "| Random | 20 [10,\u00a070] | (baseline) |  |" in table


def test_stopping_table_has_a_column_per_criterion_and_a_row_group_per_dataset(params):
    from medal.report.behaviour import stopping_table

    params["study"].update(datasets=["a", "b"], strategies=["random"], main_learner="logreg")

    def row(dataset, criterion, labels, stopped):
        return {
            "dataset": dataset,
            "learner": "logreg",
            "strategy": "random",
            "criterion": criterion,
            "labels": labels,
            "percent_of_full": 96,
            "stopped": stopped,
            "seeds": 10,
        }

    rows = [row(d, c, 150, 10) for d in "ab" for c in params["evaluation"]["stopping"]]
    rows[-1]["stopped"] = 4
    table = stopping_table(Study.from_params(params), {"a": {"title": "A"}, "b": {"title": "B"}}, rows).splitlines()
    assert table[0] == "| Strategy | Stabilizing predictions | Expected error |"
    assert table[2].startswith("| **A** |") and table[4].startswith("| **B** |")
    assert table[5] == "| Random | 150\u00a0·\u00a096\u00a0% | 150\u00a0·\u00a096\u00a0% (4/10) |"


def test_recall_table_heads_each_dataset_with_its_class_names(params):
    from medal.report.behaviour import class_recall_table

    params["study"].update(datasets=["a"], strategies=["random"], main_learner="logreg")
    rows = [
        {
            "dataset": "a",
            "learner": "logreg",
            "strategy": "random",
            "class": c,
            "recall": 0.5,
            "recall_low": 0.4,
            "recall_high": 0.6,
            "full_pool": 0.7,
        }
        for c in (0, 1)
    ]
    table = class_recall_table(
        Study.from_params(params), {"a": {"title": "A", "class_names": ["sick", "healthy"]}}, rows
    ).splitlines()
    assert table[0] == "| Strategy | Class 1 | Class 2 |"
    assert table[2] == "| **A** | *sick* | *healthy* |" and table[3] == "| Full pool | 0.700 | 0.700 |"
    assert table[4] == "| Random | 0.500 [0.400,\u00a00.600] | 0.500 [0.400,\u00a00.600] |".replace(" [", "\u00a0[")


def test_the_answer_per_metric_counts_distinct_strategies_and_names_the_metrics_that_differ(params):
    from medal.report.conclusion import metric_answers_table, metric_answers_text

    params["study"].update(datasets=["d"], strategies=["random", "entropy", "coreset"], main_learner="logreg")
    params["evaluation"]["primary_metric"] = "balanced_accuracy"

    def row(metric, strategy, difference, p_holm):
        return {"dataset": "d", "metric": metric, "strategy": strategy, "difference": difference, "p_holm": p_holm}

    rows = [
        *(row(m, "entropy", 0.02, 0.01) for m in ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")),
        *(row(m, "coreset", -0.02, 0.01) for m in ("accuracy", "balanced_accuracy", "macro_f1")),
        row("roc_auc", "coreset", -0.01, 0.2),
        row("accuracy", "margin", 0.02, 0.01),  # merged into another strategy: not shown, not counted
    ]
    table = metric_answers_table(Study.from_params(params), PROVENANCE, rows)
    assert "| D | ▲\u00a01 ▼\u00a01 | ▲\u00a01 ▼\u00a01 | ▲\u00a01 ▼\u00a01 | ▲\u00a01 ▼\u00a00 |" in table
    text = metric_answers_text(Study.from_params(params), PROVENANCE, rows)
    assert text == (
        "The answer depends on the metric ({{< var supp.tbl-metrics >}}): on D, 1 above and 1 below by the primary "
        "metric, but by ROC-AUC (1 and 0).\n"
    )
    same = [r for r in rows if r["metric"] != "roc_auc"] + [row("roc_auc", "entropy", 0.02, 0.01)]
    same.append(row("roc_auc", "coreset", -0.02, 0.01))
    assert metric_answers_text(Study.from_params(params), PROVENANCE, same).startswith(
        "Every metric gives the same numbers"
    )


def test_the_results_paragraph_names_each_finding_once_over_the_datasets(params):
    from medal.report.savings import results_text

    params["study"].update(datasets=["a", "b"], strategies=["random", "lc", "margin"], main_learner="logreg")
    summary = [
        aulc_row(s, aulc, 0.5, dataset=d)
        for d in ("a", "b")
        for s, aulc in (("random", 0.7), ("lc", 0.8 if d == "a" else 0.6), ("margin", 0.75))
    ]
    identical = {"a": {"logreg": [["lc", "margin"]]}, "b": {"logreg": [["lc", "margin"]]}}
    text = results_text(Study.from_params(params), {"a": {"title": "A"}, "b": {"title": "B"}}, summary, identical)
    assert "On A" not in text and text.count("highest AULC") == 1
    assert "The highest AULC was reached by lc on A, 0.800" in text and "margin on B, 0.750" in text
    assert "significantly above and below random sampling were 0 and 0 on A and 0 and 0 on B." in text
    assert text.strip().endswith("queried exactly the same images in every seed on A and B.")


def test_the_friedman_tests_of_the_datasets_are_said_once(params):
    from medal.report.savings import friedman_text

    friedman = {
        "strategies": ["random", "entropy"],
        "datasets": {
            d: {"average_ranks": [1.8, 1.2], "p_value": p, "statistic": 4.0, "critical_difference": 0.5, "blocks": 10}
            for d, p in (("a", 0.01), ("b", 0.4))
        },
    }
    text = friedman_text(friedman, {}, "@fig-cd", {"a": {"title": "A"}, "b": {"title": "B"}})
    assert "best average rank went to entropy on A (1.20; random sampling 1.80) and entropy on B" in text
    assert "The Friedman test rejects that all strategies rank alike at α = 0.05 on A (χ² = 4.00, p = 0.01)." in text
    assert "does not reject that all strategies rank alike at α = 0.05 on B" in text
    assert "The Nemenyi critical difference is 0.50 on A (10 blocks) and 0.50 on B (10 blocks)." in text


def test_recall_table_splits_a_dataset_with_many_classes_into_groups_that_fit_a_page(params):
    from medal.report.behaviour import CLASSES_PER_ROW, class_recall_table

    params["study"].update(datasets=["a", "b"], strategies=["random"], main_learner="logreg")
    classes = {"a": 11, "b": 2}
    rows = [
        {
            "dataset": d,
            "learner": "logreg",
            "strategy": "random",
            "class": c,
            "recall": c / 100,
            "recall_low": 0.0,
            "recall_high": 1.0,
            "full_pool": 0.5,
        }
        for d, k in classes.items()
        for c in range(k)
    ]
    provenance = {d: {"title": d.upper(), "class_names": [f"c{c}" for c in range(k)]} for d, k in classes.items()}
    table = class_recall_table(Study.from_params(params), provenance, rows).splitlines()
    body = table[2 : table.index("")]
    assert all(line.count("|") == CLASSES_PER_ROW + 2 for line in table[: table.index("")])
    # 11 classes in groups of 4, 4, 3 (3 rows each: names, full pool, random), then B's one group of 2
    assert [line.split(" | ")[0] for line in body[::3]] == ["| **A**"] * 3 + ["| **B**"]
    assert body[6] == "| **A** | *9. c8* | *10. c9* | *11. c10* |  |"
    recalls = [cell.split("\u00a0")[0] for line in body[2::3] for cell in line.strip("| ").split(" | ")[1:] if cell]
    assert recalls == [f"{c / 100:.3f}" for c in range(11)] + ["0.000", "0.010"]
