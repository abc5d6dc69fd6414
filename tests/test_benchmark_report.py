import yaml

from medal.report.benchmark import (
    benchmark_table,
    benchmark_text,
    representations_table,
    selection_table,
    selection_text,
)
from medal.study import Study

from conftest import ROOT

PROVENANCE = {
    "a": {"title": "A", "counts": {"train": [300, 900], "test": [20, 80]}},
    "b": {"title": "B", "counts": {"train": [6000, 6000], "test": [50, 50]}},
}
PUBLISHED = {
    "citation": "yang2023medmnist",
    "source": "a table",
    "results": {"a": {"Net": {"accuracy": 0.8, "roc_auc": 0.9}}},
}


def _scores(acc, auc, bal):
    return [
        {"accuracy": acc, "roc_auc": auc, "balanced_accuracy": bal},
        {"accuracy": acc, "roc_auc": auc, "balanced_accuracy": bal},
    ]


def _params(params):
    params["study"].update(datasets=["a", "b"], learners=["logreg", "gnb_refit"], main_learner="logreg")
    params["sweeps"]["datasets"] = ["a"]
    params["sweeps"]["settings"]["representation"] = {"own": {"features": "raw"}, "hog": {"features": "hog"}}
    params["prepare"].update(a={"features": "raw"}, b={"features": "raw"})
    params["select"].update(datasets=["a", "b"], grid={"learner": {"C": [0.1, 1.0]}})
    params["learners"]["logreg"]["params"]["C"] = 1.0
    params["al"]["seeds"] = 2
    params["study"]["main_seeds"] = 2
    return params


REFERENCES = {
    "a": {
        "learners": {"logreg": _scores(0.85, 0.95, 0.8), "gnb_refit": _scores(0.7, 0.97, 0.6)},
        "representations": {
            "own": {
                "settings": {"features": "raw"},
                "learners": {"logreg": _scores(0.85, 0.95, 0.8), "gnb_refit": _scores(0.7, 0.97, 0.6)},
            },
            "hog": {
                "settings": {"features": "hog"},
                "learners": {"logreg": _scores(0.5, 0.6, 0.55), "gnb_refit": _scores(0.4, 0.5, 0.45)},
            },
        },
    },
    "b": {"learners": {"logreg": _scores(0.6, 0.7, 0.65), "gnb_refit": _scores(0.5, 0.6, 0.55)}, "representations": {}},
}


def _cv(means):
    return {
        "rows": [
            {"features": {}, "learner": {"C": c}, "scores": {"roc_auc": {"mean": m, "sd": 0.01}}}
            for c, m in zip([0.1, 1.0], means)
        ]
    }


def test_benchmark_table_sets_the_published_results_from_the_data_file_beside_ours(params):
    table = benchmark_table(Study.from_params(_params(params)), PROVENANCE, REFERENCES, PUBLISHED)
    assert "| Net [@yang2023medmnist] | published | 0.800 | 0.900 | – |" in table
    assert "| Logistic regression (fit) | this study | 0.850 | 0.950 | 0.800 |" in table
    assert "{#tbl-benchmark}" in table


def test_benchmark_text_gives_signed_gaps_and_the_best_learner_by_auc(params):
    text = benchmark_text(Study.from_params(_params(params)), PROVENANCE, REFERENCES, PUBLISHED)
    assert "On A, logistic regression (fit) trained on the whole pool reaches accuracy 0.850 and AUC 0.950" in text
    assert "against 0.800 / 0.900 for Net (+0.050 / +0.050)" in text
    assert "the learner with the highest AUC is Gaussian NB (fit) (0.970)" in text
    assert "On B" not in text  # nothing published for B
    # Predicting A's majority class alone reaches 0.800: Gaussian NB's accuracy is below it, logistic regression's not.
    assert (
        "On A, Gaussian NB (fit) (accuracy 0.700, balanced accuracy 0.600) scores below the 0.800 that predicting the "
        "test set's majority class alone reaches"
    ) in text
    assert "Logistic regression (fit) (accuracy" not in text


def test_a_published_result_not_yet_transcribed_shows_as_such_and_enters_no_comparison(params):
    published = {**PUBLISHED, "results": {"a": {"Net": {"accuracy": 0.8, "roc_auc": 0.9}, "AutoML": None}}}
    study = Study.from_params(_params(params))
    table = benchmark_table(study, PROVENANCE, REFERENCES, published)
    assert "| AutoML [@yang2023medmnist] | published, not transcribed | ? | ? | – |" in table
    assert "? : published, but not yet transcribed" in table
    text = benchmark_text(study, PROVENANCE, REFERENCES, published)
    assert "for Net (+0.050 / +0.050)" in text and "AutoML" not in text
    only_missing = {**PUBLISHED, "results": {"a": {"AutoML": None}}}
    assert "On A, logistic regression" not in benchmark_text(study, PROVENANCE, REFERENCES, only_missing)


def test_learners_that_share_their_whole_pool_model_share_a_row(params):
    params = _params(params)
    params["study"]["learners"] = ["sgd_refit", "sgd_warm_start", "sgd_partial_fit"]
    scores = {name: _scores(0.8, 0.9, 0.7) for name in params["study"]["learners"]}
    references = {d: {"learners": scores, "representations": {}} for d in ("a", "b")}
    table = benchmark_table(Study.from_params(params), PROVENANCE, references, PUBLISHED)
    assert "| SGD log-loss (fit, warm start) | this study |" in table
    assert "| SGD log-loss (partial_fit) | this study |" in table and "| SGD log-loss (fit) |" not in table


def test_representations_table_marks_the_study_features(params):
    table = representations_table(Study.from_params(_params(params)), PROVENANCE, REFERENCES)
    header = table.splitlines()[0]
    assert "(study)" in header.split("|")[2] and "(study)" not in header.split("|")[3]
    assert "0.850 / 0.950 / 0.800" in table and "0.500 / 0.600 / 0.550" in table


def test_selection_marks_each_datasets_choice_and_says_whether_the_study_uses_it(params):
    params = _params(params)
    selection = {"a": _cv([0.9, 0.7]), "b": _cv([0.6, 0.7])}  # A's best is C = 0.1, B's C = 1
    table = selection_table(Study.from_params(params), PROVENANCE, selection)
    assert "| 0.1 | 0.900 ± 0.010 ◆ | 0.600 ± 0.010 |" in table
    assert "| 1 | 0.700 ± 0.010 (used) | 0.700 ± 0.010 ◆ (used) |" in table
    text = selection_text(Study.from_params(params), PROVENANCE, selection)
    assert "chooses per dataset A (C = 0.1) and B (C = 1)" in text
    assert "The study does not use them for A (it runs with C = 1)." in text
    # B's pool of 12,000 images is above select.max_pool: its folds split a subset, and the text says so.
    assert text.endswith(
        "On B the folds split a stratified random 5,000 of the pool images (the feature transforms "
        "are fitted on the whole pool).\n"
    )
    # A's own C (params_by_dataset) is the choice; B keeps the shared one, which is B's choice.
    params["learners"]["logreg"]["params_by_dataset"] = {"a": {"C": 0.1}}
    study = Study.from_params(params)
    assert "The study uses these settings." in selection_text(study, PROVENANCE, selection)
    assert "| 0.1 | 0.900 ± 0.010 ◆ (used) | 0.600 ± 0.010 |" in selection_table(study, PROVENANCE, selection)
    # A dataset of the study left out of the selection is named with the learner setting it runs with.
    params["study"]["datasets"] = ["a", "b", "c"]
    provenance = {**PROVENANCE, "c": {"title": "C", "counts": {"train": [10, 10], "test": [5, 5]}}}
    assert "Not cross-validated: C (runs with C = 1)." in selection_text(
        Study.from_params(params), provenance, selection
    )
    params["select"]["max_pool"] = None
    assert "stratified" not in selection_text(Study.from_params(params), provenance, selection)
    params["select"]["datasets"] = []
    assert (
        selection_table(Study.from_params(params), provenance, selection)
        == ""
        == selection_text(Study.from_params(params), provenance, selection)
    )


def test_selection_chooses_features_and_learner_setting_per_dataset(params):
    params = _params(params)
    params["select"]["grid"] = {"features": {"kernel_gamma": [0.3, 1.0]}, "learner": {"C": [0.1]}}
    for dataset in ("a", "b"):
        params["prepare"][dataset] = {"features": "raw", "kernel_components": 10, "kernel_gamma": 1.0}

    def cv(means):
        rows = [(gamma, {"C": 0.1}) for gamma in (0.3, 1.0)]
        scores = [{"roc_auc": {"mean": m, "sd": 0.01}} for m in means]
        return {
            "rows": [{"features": {"kernel_gamma": g}, "learner": c, "scores": s} for (g, c), s in zip(rows, scores)]
        }

    selection = {"a": cv([0.8, 0.9]), "b": cv([0.95, 0.9])}
    params["learners"]["logreg"]["params"]["C"] = 0.1
    text = selection_text(Study.from_params(params), PROVENANCE, selection)
    assert "chooses per dataset A (kernel γ = 1, C = 0.1) and B (kernel γ = 0.3, C = 0.1)" in text
    assert "The study does not use them for B (it runs with kernel γ = 1, C = 0.1)." in text
    table = selection_table(Study.from_params(params), PROVENANCE, selection)
    assert "| 0.3 | 0.1 | 0.800 ± 0.010 | 0.950 ± 0.010 ◆ |" in table


def test_the_published_file_names_its_citation_and_each_result_is_a_number():
    published = yaml.safe_load((ROOT / "data" / "published" / "medmnist_v2.yaml").read_text())
    assert f"{{{published['citation']}," in (ROOT / "paper" / "references.bib").read_text()
    for methods in published["results"].values():
        for scores in filter(None, methods.values()):  # null: published, not yet transcribed
            assert set(scores) <= {"accuracy", "roc_auc", "balanced_accuracy"}
            assert all(0 < value <= 1 for value in scores.values())


def test_learners_share_a_row_only_where_their_parameters_for_that_dataset_agree(params):
    params = _params(params)
    params["study"]["learners"] = ["sgd_refit", "sgd_warm_start"]
    params["learners"]["sgd_refit"]["params_by_dataset"] = {"b": {"alpha": 0.01}}
    scores = {name: _scores(0.8, 0.9, 0.7) for name in params["study"]["learners"]}
    references = {d: {"learners": scores, "representations": {}} for d in ("a", "b")}
    table = benchmark_table(Study.from_params(params), PROVENANCE, references, PUBLISHED)
    on_b = table[table.index("| **B** |") :]
    assert "| SGD log-loss (fit, warm start) | this study |" in table[: table.index("| **B** |")]
    assert "| SGD log-loss (fit) | this study |" in on_b and "| SGD log-loss (warm start) | this study |" in on_b
