import math
from math import nan

from medal.report.setup import provenance_text
from medal.report.text import SOFT_HYPHEN, breakable, fmt_ci, in_sentence, join_names, markdown_table
from medal.report.variables import variables
from medal.study import Study

from conftest import aulc_row


def test_markdown_table_has_caption_and_id():
    text = markdown_table(["Name", "B"], [["longer cell", "1"]], "A caption.", "tbl-x", text_columns=1)
    # dashes proportional to each column's widest body cell plus 2 of padding (13 and 3 characters of 16)
    assert text == "| Name | B |\n|:" + "-" * 81 + "|" + "-" * 19 + ":|\n| longer cell | 1 |\n\n: A caption. {#tbl-x}\n"


def test_a_table_too_wide_for_the_page_wraps_its_text_columns_first():
    header, row = ["Strategy", *["P(equiv.)"] * 10], ["Density-weighted entropy", *["0.83"] * 10]
    separator = markdown_table(header, [row], "C.", "tbl-x", text_columns=1).splitlines()[1]
    # the text column is cut to its longest word (16 + 2 of padding), each number column keeps its header's 9 + 2
    assert separator.split("|")[1:-1] == [":" + "-" * round(100 * 18 / 128)] + ["-" * round(100 * 11 / 128) + ":"] * 10


def test_markdown_table_lets_dataset_names_wrap_but_not_code():
    assert breakable("OrganAMNIST vs PneumoniaMNIST") == f"Organ{SOFT_HYPHEN}AMNIST vs Pneumonia{SOFT_HYPHEN}MNIST"
    assert (
        breakable("`BloodMNIST`") == "`BloodMNIST`"
        and breakable("McPAL and SGDClassifier") == "McPAL and SGDClassifier"
    )
    wide = markdown_table(["Strategy", "PneumoniaMNIST"], [["Random", "0.9"]], "C.", "tbl-x", text_columns=1)
    narrow = markdown_table(["Strategy", "Pneumonia-"], [["Random", "0.9"]], "C.", "tbl-x", text_columns=1)
    # the name's column is sized by its longest part ("Pneumonia-"), as if the name were that word alone
    assert wide.splitlines()[1] == narrow.splitlines()[1]


def test_fmt_ci():
    assert fmt_ci(0.5, 0.4, 0.6) == "0.500 [0.400, 0.600]"
    assert fmt_ci(12.0, float("nan"), float("nan"), 0) == "12"
    assert fmt_ci(float("nan"), 0, 0) == "n/a"
    # Negative numbers take a minus sign, not a hyphen; a value that rounds to zero has none.
    assert fmt_ci(-0.02, -0.0001, 0.01) == "\u22120.020 [0.000, 0.010]"
    assert fmt_ci(27.0, -0.4, 54.2, 0) == "27 [0, 54]"  # no negative zero


def test_provenance_text_states_how_a_mirror_differs(params):
    provenance = {
        "p": {
            "title": "PneumoniaMNIST",
            "variant": "mirror",
            "source_md5": "abc",
            "class_names": ["normal", "pneumonia"],
            "counts": {"train": [388, 3494], "val": [135, 389], "test": [234, 390]},
            "official_counts": {"train": [1214, 3494], "val": [135, 389], "test": [234, 390]},
        }
    }
    params["study"]["datasets"] = ["p"]
    text = provenance_text(Study.from_params(params), provenance)
    assert "a copy from a public GitHub repository, not the official Zenodo file, with source-file md5 `abc`" in text
    assert "its pool (training split) holds 388 normal instead of 1214." in text


def test_in_sentence_keeps_acronyms():
    assert in_sentence("Logistic regression (fit)") == "logistic regression (fit)"
    assert in_sentence("SGD log-loss (fit)") == "SGD log-loss (fit)"
    assert [in_sentence(n) for n in ("Core-Set", "McPAL", "Gaussian NB (fit)", "Random forest (fit)")] == [
        "Core-Set",
        "McPAL",
        "Gaussian NB (fit)",
        "random forest (fit)",
    ]


def test_join_names():
    assert [join_names(n) for n in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == ["", "a", "a and b", "a, b and c"]


def test_variables_of_a_study_without_images(params):
    params["study"]["datasets"] = ["wdbc"]
    params["sweeps"]["datasets"] = []
    provenance = {
        "wdbc": {
            "title": "WDBC",
            "counts": {"train": [148, 250], "test": [64, 107]},
            "variant": "bundled",
            "official_counts": None,
            "class_names": ["malignant", "benign"],
            "shape": [30],
        }
    }
    out = variables(Study.from_params(params), provenance)
    assert out["image_limitation"] == "This configuration uses no images, only tabular features."
    assert out["dataset_list"] == "WDBC"
    assert out["grid"]["dataset"] == "none" and out["main_learner"] == "logistic regression (fit)"
    assert out["scored_tests"] == "Every run scores the whole test set."
    params["evaluation"]["max_test_images"] = 100
    cut = variables(Study.from_params(params), provenance)["scored_tests"]
    assert "stratified by class" in cut and cut.endswith("WDBC 100 of its 171 test images. ")


def test_cliques_join_strategies_closer_than_the_critical_difference():
    import numpy as np

    from medal.report.ranks import _cliques

    # Ranks 1.0, 1.5, 2.4, 3.9 with CD 1.0: {1.0, 1.5} and {1.5, 2.4} are within the CD, 3.9 stands alone.
    assert _cliques(np.array([1.0, 1.5, 2.4, 3.9]), 1.0) == [(0, 1), (1, 2)]
    assert _cliques(np.array([1.0, 2.0, 3.0]), 0.5) == []


def test_significance_marks():
    from medal.report.savings import significance_mark

    baseline = {"aulc": 0.6, "p_holm": nan}
    assert significance_mark({"aulc": 0.700000, "p_holm": 0.010000}, baseline) == " ▲"
    assert significance_mark({"aulc": 0.500000, "p_holm": 0.010000}, baseline) == " ▼"
    assert significance_mark({"aulc": 0.700000, "p_holm": 0.200000}, baseline) == ""
    assert significance_mark({"aulc": 0.700000, "p_holm": 0.010000}, None) == ""


def test_update_modes_need_a_refit_and_another_mode_of_one_estimator(params):
    from medal.report.learners import update_modes

    params["study"]["learners"] = ["logreg", "sgd_partial_fit", "sgd_refit", "gnb_partial_fit", "mlp_warm_start"]
    assert update_modes(Study.from_params(params)) == [
        ("sgd_log_loss", {"fit": "sgd_refit", "partial_fit": "sgd_partial_fit"})
    ]
    params["study"]["learners"] = ["mlp_partial_fit", "mlp_refit", "mlp_warm_start"]
    assert update_modes(Study.from_params(params)) == [
        ("mlp", {"fit": "mlp_refit", "warm_start": "mlp_warm_start", "partial_fit": "mlp_partial_fit"})
    ]
    params["study"]["learners"] = ["logreg"]
    assert update_modes(Study.from_params(params)) == []


def test_class_balance_table_reports_the_minority_class(params):
    from medal.report.behaviour import class_balance_table

    params["study"].update(datasets=["p"], learners=["logreg"], strategies=["random", "entropy"], main_learner="logreg")
    provenance = {"p": {"title": "PneumoniaMNIST", "class_names": ["normal", "pneumonia"]}}
    balance = {"p": {"pool": [0.1, 0.9], "queried": {"logreg": {"random": [0.105, 0.895], "entropy": [0.471, 0.529]}}}}
    table = class_balance_table(Study.from_params(params), provenance, balance).replace(SOFT_HYPHEN, "")
    assert "| Strategy | PneumoniaMNIST (normal) |" in table
    assert "| Pool | 10.0 |" in table and "| Random | 10.5 |" in table and "| Entropy | 47.1 |" in table


def test_stopping_cell_shows_the_share_that_stopped_early():
    from medal.report.behaviour import _stopping_cell

    row = {"labels": 118.000000, "percent_of_full": 96.400000, "stopped": 7, "seeds": 10}
    assert _stopping_cell(row) == "118\u00a0·\u00a096\u00a0% (7/10)"  # no line break inside the cell's numbers
    assert _stopping_cell({**row, "stopped": 10}) == "118\u00a0·\u00a096\u00a0%"


def test_n_runs_counts_both_experiments_every_sweep_value_and_the_cap_check(params):
    from medal.report.variables import n_runs

    # 6 datasets x (13 strategies with the main learner x 10 seeds + 10 other learners x 3 strategies x 5 seeds),
    # plus 2 datasets x (4 + 4 + 4 + 2 + 6 values) x 2 strategies x 5 seeds, plus 13 capped strategies x 5 seeds.
    assert n_runs(Study.from_params(params)) == 6 * (13 * 10 + 10 * 3 * 5) + 2 * 20 * 2 * 5 + 13 * 5
    # The learner comparison on two datasets; 4, 4 and 6 main seeds on three others.
    params["study"]["learner_datasets"] = ["breastmnist", "pneumoniamnist"]
    params["study"]["main_seeds_by_dataset"] = {"bloodmnist": 4, "organamnist": 4, "retinamnist": 6}
    main = 2 * (13 * 10 + 10 * 3 * 5) + 13 * (4 + 4 + 6 + 10)
    assert n_runs(Study.from_params(params)) == main + 2 * 20 * 2 * 5 + 13 * 5


def _saving(dataset, strategy, saving, low, high):
    return {
        "dataset": dataset,
        "learner": "logreg",
        "strategy": strategy,
        "target": "random_100",
        "above_initial": 1,
        "saving": saving,
        "saving_low": low,
        "saving_high": high,
    }


def test_conclusion_counts_only_differences_the_test_resampling_interval_keeps(params):
    from medal.report.conclusion import conclusion_text

    params["study"].update(datasets=["d"], strategies=["random", "entropy", "margin"], main_learner="logreg")
    provenance = {"d": {"title": "D", "shape": [28, 28], "class_names": ["a", "b"]}}
    entropy = {**aulc_row("entropy", 0.75, 0.01), "difference_test_low": 0.01, "difference_test_high": 0.09}
    margin = {**aulc_row("margin", 0.60, 0.02), "difference_test_low": -0.2, "difference_test_high": 0.01}
    summary = [aulc_row("random", 0.70), entropy, margin]
    friedman = {
        "strategies": ["random", "entropy", "margin"],
        "datasets": {"d": {"average_ranks": [2.0, 1.0, 3.0], "critical_difference": 0.5}},
    }
    targets = [_saving("d", "entropy", 30, 10, 50)]
    text = conclusion_text(Study.from_params(params), provenance, summary, friedman, targets)
    # Both are significant over seeds; only entropy's interval with the test images resampled excludes zero.
    assert text.startswith(
        "With logistic regression (fit), of 2 distinct strategies, the numbers whose AULC lay above and below random "
        "sampling's (Holm-corrected paired tests over seeds, and a 95 % interval that also resamples the test images "
        "excluding zero) were 1 and 0 on D (the tests over seeds alone: 1 and 1)."
    )
    assert (
        "Ranked over the seeds of each dataset, on D entropy led random sampling by 1.00 ranks, more than the "
        "critical difference of 0.50." in text
    )
    assert "On D, the image set, the largest median saving" in text
    assert "was 30 [10, 50] labels, by entropy on D ({{< var supp.tbl-labels >}})." in text
    # The abstract's version: the same sentences without references to tables.
    abstract = conclusion_text(Study.from_params(params), provenance, summary, friedman, targets, cite=False)
    assert "was 30 [10, 50] labels, by entropy on D." in abstract and "@" not in abstract
    assert "Ranked over" not in abstract  # the abstract states the findings, not the rank analysis
    assert "no strategy was shown" not in text


def test_conclusion_says_plainly_when_nothing_was_shown_on_the_images(params):
    from medal.report.conclusion import conclusion_text

    params["study"].update(datasets=["img", "tab"], strategies=["random", "entropy"], main_learner="logreg")
    provenance = {
        "img": {"title": "Img", "shape": [28, 28, 3], "class_names": ["a", "b"]},
        "tab": {"title": "Tab", "shape": [30], "class_names": ["a", "b"]},
    }
    seed_only = {**aulc_row("entropy", 0.75, 0.01, "img"), "difference_test_low": -0.01, "difference_test_high": 0.1}
    tabular = {**aulc_row("entropy", 0.75, 0.01, "tab"), "difference_test_low": 0.02, "difference_test_high": 0.1}
    summary = [aulc_row("random", 0.70, dataset="img"), seed_only, aulc_row("random", 0.70, dataset="tab"), tabular]
    targets = [_saving("img", "entropy", 15, 0, 70), _saving("tab", "entropy", 200, 100, 230)]
    text = conclusion_text(Study.from_params(params), provenance, summary, {"datasets": {}}, targets, cite=False)
    assert "were 0 and 0 on Img and 1 and 0 on Tab (the tests over seeds alone: 1 and 0, 1 and 0)." in text
    assert (
        "On Img, the image set, the largest median saving to reach random sampling's mean score at 250 labels was "
        "15 [0, 70] labels, by entropy on Img; its interval includes zero, so it is not a saving the data show."
    ) in text
    assert "On Tab, the tabular set, it was 200 [100, 230] labels, by entropy on Tab." in text
    assert text.strip().endswith(
        "On the medical images, then, no strategy was shown to save annotation over random sampling in this setting."
    )


def test_the_smallest_test_class_is_found_over_every_dataset_and_class():
    from medal.report.variables import smallest_test_class

    provenance = {
        "a": {"title": "A", "counts": {"test": [42, 114]}, "class_names": ["malignant", "benign"]},
        "b": {"title": "B", "counts": {"test": [50, 20, 60]}},  # three classes, no names
    }
    # B's second class: 20 images of 3 classes, so one image moves balanced accuracy by 1 / 60.
    assert smallest_test_class(["a", "b"], provenance) == (
        "B's class 2, with 20 images, each of which moves balanced accuracy by 0.017"
    )
    assert smallest_test_class(["a"], provenance).startswith("A's malignant class, with 42 images")  # 1 / 84 = 0.012


def test_runtime_text_says_where_stages_computed_and_what_a_submission_did():
    from medal.report.setup import runtime_text

    submission = {"runs": 30, "stages": 2, "dask": True, "workers": 8, "wall_seconds": 600.0}
    records = [
        {"runs": 10, "reused": 0, "computed_on": {"dask": False, "workers": 2}, "wall_seconds": 60.0},
        {"runs": 20, "reused": 0, "computed_on": None, "submission": submission, "wall_seconds": 5.0},
        {"runs": 10, "reused": 3, "computed_on": None, "submission": submission, "wall_seconds": 5.0},
        {"runs": 6, "reused": 0, "republished": 4, "computed_on": None, "wall_seconds": 1.0},
    ]
    text = runtime_text(records)
    assert "; 4 runs were published again from an earlier build with the same fingerprint" in text
    records.pop()
    assert "published again" not in runtime_text(records)
    text = runtime_text(records)
    assert text.startswith("In this build the 3 experiment stages ran 40 active-learning runs in ")
    assert "each stage computing on 2 local processes; 3 runs were kept from an interrupted" in text
    assert (
        "30 runs of 2 stages were computed ahead, all at once, by a study-wide submission on a Dask cluster of "
        "8 workers in " in text
    )
    assert runtime_text([]) == "No experiment stage recorded its run time in this build.\n"


def _sweep_row(setting, value, strategy, vs_random=math.nan, p_holm=math.nan, dataset="d"):
    return {
        "dataset": dataset,
        "setting": setting,
        "value": value,
        "strategy": strategy,
        "vs_random": vs_random,
        "vs_random_low": vs_random - 0.01,
        "vs_random_high": vs_random + 0.01,
        "p_holm": p_holm,
    }


def test_every_sweep_in_one_table_and_the_decided_values_named(params):
    from medal.report.behaviour import sweep_summary, sweep_table

    params["sweeps"].update(datasets=["d"], strategies=["random", "entropy"], learner="logreg")
    rows = [
        _sweep_row("batch_size", "1", "random"),
        _sweep_row("batch_size", "1", "entropy", 0.02, 0.01),
        _sweep_row("batch_size", "5", "entropy", -0.001, 0.6),
        _sweep_row("label_noise", "0.2", "entropy", -0.03, 0.04),
    ]
    provenance = {"d": {"title": "D"}}
    table = sweep_table(Study.from_params(params), provenance, rows)
    assert "| **Batch size** |  |" in table and "| **Oracle label noise** |  |" in table
    assert "| 1 | 0.020\u00a0[0.010,\u00a00.030] ▲ |" in table
    assert "| 5 | −0.001\u00a0[−0.011,\u00a00.009] |" in table
    assert "| 0.2 | −0.030\u00a0[−0.040,\u00a0−0.020] ▼ |" in table
    assert "{#tbl-sweeps}" in table
    repeats = [{"dataset": "d", "setting": "batch_size", "strategy": "entropy", "value": 10, "same": True}]
    text = sweep_summary(Study.from_params(params), provenance, rows, repeats)
    assert "only because @tbl-aulc averages" in text
    assert (
        "significant only for entropy on D at batch size 1 (above) and entropy on D at oracle label noise 0.2 (below)"
        in text
    )
    differing = [{**repeats[0], "same": False}]
    text = sweep_summary(Study.from_params(params), provenance, rows[:1] + rows[2:3], differing)
    assert "At no value" in text and "the batch size on d sweeps are not the first experiment's runs" in text


def test_dataset_table_has_a_row_per_dataset_and_the_classes_table_every_class(params):
    from medal.report.setup import classes_table, datasets_table

    params["study"]["datasets"] = ["b", "c"]
    provenance = {
        "b": {
            "title": "B",
            "modality": "Ultrasound",
            "class_names": ["x", "y"],
            "counts": {"train": [147, 399], "test": [42, 114]},
            "variant": "mirror",
            "canonical_md5": "5ed8cbce524f",
        },
        "c": {
            "title": "C",
            "modality": "Microscopy",
            "class_names": ["p", "q", "r"],
            "counts": {"train": [100, 50, 25], "test": [10, 5, 3]},
            "variant": "official",
            "canonical_md5": "abcdef0123",
        },
    }
    table = datasets_table(Study.from_params(params), provenance)
    assert "| B | Ultrasound | 2 | 546 | 156 | 2.7 | GitHub mirror | `5ed8cbce` |" in table
    assert "| C | Microscopy | 3 | 175 | 18 | 4.0 | Zenodo (official) | `abcdef01` |" in table
    assert "scored" not in table
    params["evaluation"]["max_test_images"] = 100
    table = datasets_table(Study.from_params(params), provenance)
    assert "| B | Ultrasound | 2 | 546 | 156 (100 scored) |" in table and "| C | Microscopy | 3 | 175 | 18 |" in table
    assert "stratified by class" in table
    classes = classes_table(Study.from_params(params), provenance)
    assert "| **C** |  |  |" in classes and "| r | 25 | 3 |" in classes and "{#tbl-classes}" in classes


def test_across_the_image_sets_table_and_text(params):
    from medal.report.conclusion import _across_sentence
    from medal.report.savings import across_table, across_text

    params["study"]["main_learner"] = "logreg"
    provenance = {"a": {"title": "A"}, "b": {"title": "B"}}
    across = {
        "datasets": ["a", "b"],
        "rope": 0.01,
        "probability": 0.95,
        "best_case": {"below": 0.0, "within": 0.08, "above": 0.92},
        "strategies": {
            "entropy": {
                "differences": [0.02, -0.005],
                "below": 0.0,
                "within": 0.3,
                "above": 0.7,
                "decision": "undecided",
            },
            "margin": {
                "differences": [0.001, 0.002],
                "below": 0.0,
                "within": 1.0,
                "above": 0.0,
                "decision": "equivalent",
            },
        },
    }
    table = across_table(Study.from_params(params), provenance, across)
    assert "| Entropy | +0.020 | −0.005 | 0.00 | 0.30 | 0.70 | – |" in table
    assert "| Margin | +0.001 | +0.002 | 0.00 | 1.00 | 0.00 | = |" in table and "{#tbl-across}" in table
    text = across_text(Study.from_params(params), provenance, across)
    assert "Across the 2 image sets (A and B) as independent blocks" in text
    assert "of 2 strategies, 0 above random sampling, 1 equivalent to it within ±0.01, 0 below it, 1 undecided" in text
    assert "would reach a posterior probability of 0.92. Each set's difference enters the test with" in text
    assert _across_sentence(across) == [
        "Across the 2 image sets as independent blocks (Bayesian signed-rank test), 0 strategies were shown above "
        "random sampling, 1 equivalent to it within ±0.01 and 0 below it; the other 1 stayed undecided."
    ]
    # Too few sets for any verdict: the text, the table and the conclusion say so instead of counting verdicts.
    few = {**across, "strategies": {s: r | {"decision": "too few sets"} for s, r in across["strategies"].items()}}
    text = across_text(Study.from_params(params), provenance, few)
    assert "draws no verdict" in text and "probability of 0.92, below the 0.95 the study asks for" in text
    assert "equivalent to it" not in text and "no verdict: too few sets" in across_table(
        Study.from_params(params), provenance, few
    )
    assert "| Margin | +0.001 | +0.002 | 0.00 | 1.00 | 0.00 |  |" in across_table(
        Study.from_params(params), provenance, few
    )
    assert _across_sentence(few) == [
        "With 2 image sets, no verdict across medical image sets is possible: the Bayesian signed-rank test could "
        "not show even a large lead at 0.95."
    ]
    assert (
        _across_sentence({**across, "datasets": ["a"]}) == []
        and across_table(Study.from_params(params), provenance, {**across, "strategies": {}}) == ""
    )
