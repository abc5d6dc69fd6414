"""How good the models are: the cross-validated model selection, and every learner trained on the whole pool per
representation beside MedMNIST v2's published test results."""

from __future__ import annotations

from typing import Any

import numpy as np

from medal.analysis.metrics import METRIC_LABELS
from medal.experiment.learners import Learner
from medal.experiment.selection import choose, grid_points
from medal.report.text import (
    LEARNER_LABELS,
    REPRESENTATION_LABELS,
    in_sentence,
    join_names,
    label,
    main_seeds_phrase,
    markdown_table,
    scored_test_note,
    seeds_phrase,
    supplement_ref,
    titles,
)
from medal.study import Study, in_use, plain

# Metrics of the benchmark tables, in column order, with their short headers.
BENCHMARK_METRICS = {"accuracy": "ACC", "roc_auc": "AUC", "balanced_accuracy": "Bal. acc."}
# Grid keys as sentences name them (the selection table's headers capitalise them).
GRID_LABELS = {
    "contrast_eps": "contrast ε",
    "whitening_eps": "whitening ε",
    "pca_components": "PCA",
    "kernel_gamma": "kernel γ",
    "C": "C",
}


def whole_pool_groups(study: Study, dataset: str, learners: tuple[str, ...]) -> list[list[str]]:
    """The ``learners`` grouped by the model they train on ``dataset``'s whole pool (with its parameters there):
    learners that differ only in how they update (refit or warm start) train the same model, one fit from scratch."""
    groups: dict[str, list[str]] = {}
    for name in learners:
        fit = Learner.from_params(name, study.learner_spec(name, dataset)).whole_pool_fit()
        groups.setdefault(fit, []).append(name)
    return list(groups.values())


def _mean(scores: list[dict[str, Any]], metric: str) -> float:
    return float(np.mean([s[metric] for s in scores]))


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _point_text(point: dict[str, dict[str, Any]]) -> str:
    values = {**point["features"], **point["learner"]}
    return ", ".join(f"{label(k, GRID_LABELS)} = {v:g}" for k, v in values.items())


def selection_table(study: Study, provenance: dict[str, dict[str, Any]], selection: dict[str, Any]) -> str:
    """Cross-validated primary metric of every grid combination per dataset (mean ± SD over folds); ◆ marks each
    dataset's cross-validated choice, and (used) the combination ``params.yaml`` holds for it."""
    select, metric = study.selection, study.primary_metric
    datasets = select["datasets"]
    if not datasets:
        return ""
    rows_by_dataset = {d: selection[d]["rows"] for d in datasets}
    best = choose(rows_by_dataset, metric)
    keys = [*select["grid"].get("features", {}), *select["grid"].get("learner", {})]
    rows = []
    for i, point in enumerate(grid_points(select["grid"])):
        scores = [rows_by_dataset[d][i]["scores"][metric] for d in datasets]
        marks = [
            (" ◆" if point == best[d] else "") + (" (used)" if point == study.settings_in_use[d] else "")
            for d in datasets
        ]
        values = {**point["features"], **point["learner"]}
        rows.append(
            [
                *(f"{values[k]:g}" for k in keys),
                *(f"{s['mean']:.3f} ± {s['sd']:.3f}{mark}" for s, mark in zip(scores, marks)),
            ]
        )
    header = [*(_capitalised(label(k, GRID_LABELS)) for k in keys), *(provenance[d]["title"] for d in datasets)]
    caption = (
        f"Model selection by {select['folds']}-fold stratified cross-validation on the pool: "
        f"{METRIC_LABELS[metric]} of {in_sentence(label(select['learner'], LEARNER_LABELS))} trained on the pool's "
        "labels, mean ± SD over the folds. Each dataset takes the combination with its best mean. "
        "◆ marks each dataset's choice, (used) the settings of this study."
    )
    return markdown_table(header, rows, caption, "tbl-selection", text_columns=0)


def _learner_in_use(study: Study, dataset: str) -> dict[str, Any]:
    """The selected learner's values of the grid's learner keys as it runs on ``dataset`` (:func:`in_use`)."""
    return in_use(study.selection, study.learner_specs, {}, dataset)["learner"]


def selection_text(study: Study, provenance: dict[str, dict[str, Any]], selection: dict[str, Any]) -> str:
    """Each cross-validated dataset's choice, whether the study uses it, and what the datasets of the study left out
    of the selection run with (nothing when no dataset is cross-validated)."""
    select, metric = study.selection, study.primary_metric
    if not select["datasets"]:
        return ""
    best = choose({d: selection[d]["rows"] for d in select["datasets"]}, metric)
    chosen = [f"{provenance[d]['title']} ({_point_text(choice)})" for d, choice in best.items()]
    differing = [d for d in best if study.settings_in_use[d] != best[d]]
    verdict = (
        "The study uses these settings."
        if not differing
        else "The study does not use them for "
        + ", ".join(
            f"{provenance[d]['title']} (it runs with {_point_text(study.settings_in_use[d])})" for d in differing
        )
        + "."
    )

    others = [
        f"{provenance[d]['title']} (runs with {_point_text({'features': {}, 'learner': _learner_in_use(study, d)})})"
        for d in study.datasets
        if d not in select["datasets"]
    ]
    unselected = f" Not cross-validated: {join_names(others)}." if others else ""
    cap = select.get("max_pool")
    larger = [d for d in select["datasets"] if cap is not None and sum(provenance[d]["counts"]["train"]) > cap]
    subset = (
        f" On {join_names([provenance[d]['title'] for d in larger])} the folds split a stratified random {cap:,} of "
        "the pool images (the feature transforms are fitted on the whole pool)."
        if larger
        else ""
    )
    return (
        f"Cross-validation of the {in_sentence(METRIC_LABELS[metric])} on the pool chooses per dataset "
        f"{join_names(chosen)} ({supplement_ref('tbl-selection')}). {verdict}{unselected}{subset}\n"
    )


def _published_rows(published: dict[str, Any], dataset: str) -> list[list[str]]:
    """A row per published result of the dataset; a result the data file lists as null (published, but its values
    not yet typed from the source) says so instead of leaving the row out."""
    rows = []
    for method, scores in published["results"].get(dataset, {}).items():
        if scores is None:
            rows.append([f"{method} [@{published['citation']}]", "published, not transcribed", "?", "?", "–"])
            continue
        cells = [f"{scores[m]:.3f}" if m in scores else "–" for m in BENCHMARK_METRICS]
        rows.append([f"{method} [@{published['citation']}]", "published", *cells])
    return rows


def _transcribed(published: dict[str, Any], dataset: str) -> dict[str, dict[str, float]]:
    """The dataset's published results whose values the data file holds."""
    return {method: scores for method, scores in published["results"].get(dataset, {}).items() if scores is not None}


def _group_label(names: list[str]) -> str:
    """'MLP (fit, warm start)': the estimator once, with the update modes that share the model."""
    parts = [label(name, LEARNER_LABELS).rsplit(" (", 1) for name in names]
    if len(names) == 1 or any(len(part) != 2 for part in parts):
        return " = ".join(label(name, LEARNER_LABELS) for name in names)
    return f"{parts[0][0]} ({', '.join(mode.rstrip(')') for _, mode in parts)})"


def benchmark_table(
    study: Study, provenance: dict[str, dict[str, Any]], references: dict[str, Any], published: dict[str, Any]
) -> str:
    """Every whole-pool model trained with the study's features (one row for learners that share it), beside the
    published results."""
    rows = []
    for dataset in study.datasets:
        rows.append([f"**{provenance[dataset]['title']}**", "", "", "", ""])
        for names in whole_pool_groups(study, dataset, study.learners_on(dataset)):
            scores = references[dataset]["learners"][names[0]]
            rows.append([_group_label(names), "this study", *(f"{_mean(scores, m):.3f}" for m in BENCHMARK_METRICS)])
        rows += _published_rows(published, dataset)
    header = ["Model", "Source", *BENCHMARK_METRICS.values()]
    caption = (
        "Test scores of every learner the study runs on a dataset trained on its whole pool with the study's features "
        f"(mean over {seeds_phrase(study)} on {join_names(titles(provenance, study.learner_datasets))}, over "
        f"{main_seeds_phrase(study, provenance)} with {in_sentence(label(study.main_learner, LEARNER_LABELS))}), "
        f"beside published test results: {published['source']}; – : not published; ? : published, but not yet "
        "transcribed into the study's data file. "
        f"{scored_test_note(study, provenance)}The whole-pool model is one fit from scratch, so learners that differ "
        "only in refitting or warm-starting share a row; a partial_fit learner keeps its own row where its settings "
        "or class weighting differ."
    )
    return markdown_table(header, rows, caption, "tbl-benchmark")


def representations_table(study: Study, provenance: dict[str, dict[str, Any]], references: dict[str, Any]) -> str:
    """Every learner trained on the whole pool, per swept representation: ACC / AUC / balanced accuracy."""
    names = list(study.sweeps["settings"]["representation"])
    rows = []
    for dataset in study.sweeps["datasets"]:
        reps = references[dataset]["representations"]
        rows.append([f"**{provenance[dataset]['title']}**", *([""] * len(names))])
        for learner in study.learners_on(dataset):
            cells = [
                " / ".join(f"{_mean(reps[n]['learners'][learner], m):.3f}" for m in BENCHMARK_METRICS) for n in names
            ]
            rows.append([label(learner, LEARNER_LABELS), *cells])
    own = {
        n
        for d in study.sweeps["datasets"]
        for n in names
        if plain(study.feature_specs[d]) == references[d]["representations"][n]["settings"]
    }
    header = ["Learner", *(label(n, REPRESENTATION_LABELS) + (" (study)" if n in own else "") for n in names)]
    fewer = study.sweeps.get("reference_seeds")
    others = f" on the study's features and over {fewer} on the others" if fewer and fewer < study.seeds else ""
    caption = (
        "Test scores of every learner trained on the whole pool, per feature representation: accuracy / ROC-AUC / "
        f"balanced accuracy, mean over {seeds_phrase(study)}{others}; (study): the features of the main experiments."
    )
    return markdown_table(header, rows, caption, "tbl-representations", text_columns=1)


def benchmark_text(
    study: Study, provenance: dict[str, dict[str, Any]], references: dict[str, Any], published: dict[str, Any]
) -> str:
    """How the main learner and the best learner on the study's features compare with the published results."""
    main = study.main_learner
    sentences = []
    for dataset in study.datasets:
        results = _transcribed(published, dataset)
        if not results:
            continue
        learners = references[dataset]["learners"]
        acc, auc = _mean(learners[main], "accuracy"), _mean(learners[main], "roc_auc")
        gaps = [
            f"{scores['accuracy']:.3f} / {scores['roc_auc']:.3f} for {method} ({_signed(acc - scores['accuracy'])} / "
            f"{_signed(auc - scores['roc_auc'])})"
            for method, scores in results.items()
        ]
        best = max(learners, key=lambda name: _mean(learners[name], "roc_auc"))
        sentences.append(
            f"On {provenance[dataset]['title']}, {in_sentence(label(main, LEARNER_LABELS))} trained on the whole pool "
            f"reaches accuracy {acc:.3f} and AUC {auc:.3f}, against {', '.join(gaps)}; the learner with the highest "
            f"AUC is {in_sentence(label(best, LEARNER_LABELS))} ({_mean(learners[best], 'roc_auc'):.3f})."
        )
        sentences += _below_majority(study, dataset, provenance[dataset], learners)
    return " ".join(sentences) + "\n" if sentences else ""


def _below_majority(
    study: Study, dataset: str, provenance: dict[str, Any], learners: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """A sentence naming the whole-pool models whose accuracy is below what predicting the test set's majority class
    alone reaches, with their balanced accuracy, the fairer reading for models that weigh the classes alike."""
    test = provenance["counts"]["test"]
    majority = max(test) / sum(test)
    below = [
        names
        for names in whole_pool_groups(study, dataset, tuple(learners))
        if _mean(learners[names[0]], "accuracy") < majority
    ]
    if not below:
        return []
    parts = [
        f"{in_sentence(_group_label(names))} (accuracy {_mean(learners[names[0]], 'accuracy'):.3f}, balanced accuracy "
        f"{_mean(learners[names[0]], 'balanced_accuracy'):.3f})"
        for names in below
    ]
    return [
        f"On {provenance['title']}, {join_names(parts)} score{'s' if len(below) == 1 else ''} below the "
        f"{majority:.3f} that predicting the test set's majority class alone reaches: with the classes weighted alike "
        "it trades accuracy on the majority class for recall on the minority one, which balanced accuracy counts."
    ]


def _signed(difference: float) -> str:
    return f"{difference:+.3f}".replace("-", "−")
