"""Numbers and names the manuscript's prose quotes (Quarto's ``{{< var >}}`` shortcodes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medal.analysis.metrics import METRIC_LABELS
from medal.analysis.stats import DETECTION_POWER
from medal.analysis.summaries import FULL_POOL_TARGET, main_target, study_targets, target_text
from medal.blas import PINNED_KERNEL, REQUIRED_FLAGS
from medal.design import candidates_for_refits, label_sizes, percent_key, query_cycles
from medal.experiment.learners import CalibratedSVC
from medal.report.behaviour import (
    value_label,
)
from medal.report.setup import (
    is_image,
    shape_text,
)
from medal.report.text import (
    LEARNER_LABELS,
    STRATEGY_LABELS,
    class_counts,
    dataset_sizes,
    in_sentence,
    join_names,
    label,
    main_seeds_phrase,
    scored_test_note,
    titles,
)
from medal.study import Study


def _image_limitation(sizes: list[str]) -> str:
    if not sizes:
        return "This configuration uses no images, only tabular features."
    return f"The images are small ({join_names(sizes)} pixels), far below clinical resolution."


QUERY_GRID_IMAGES = 10  # images per strategy in the queried-images figure


QUERY_GRID_SEED = 0  # the run they come from


def n_runs(study: Study) -> int:
    """Number of active-learning runs the study performs: the main experiments, every sweep value, and the candidate
    cap's check (every strategy with the main learner, ``al.seeds`` seeds)."""
    sweeps = study.sweeps
    main = sum(
        len(study.strategies_for(learner)) * study.seeds_for(learner, dataset)
        for dataset in study.datasets
        for learner in study.learners_on(dataset)
    )
    swept = (
        sum(len(study.sweep_values[s]) for s in sweeps["settings"])
        * len(sweeps["strategies"])
        * len(sweeps["datasets"])
    )
    capped = len(study.strategies)
    return main + (swept + capped) * study.seeds


def _first_image_dataset(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """The title of the first image dataset of the study (the one the image grid shows), or 'none'."""
    return next((provenance[d]["title"] for d in study.datasets if is_image(provenance[d])), "none")


def _sweep_variables(study: Study, provenance: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The sweeps' datasets, learner, strategies and the values of each setting, as the prose names them."""
    return {
        "datasets": join_names([provenance[d]["title"] for d in study.sweeps["datasets"]]),
        "learner": in_sentence(label(study.sweeps["learner"], LEARNER_LABELS)),
        "strategies": join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study.sweeps["strategies"]]),
        **{
            setting: join_names([value_label(setting, str(v)) for v in study.sweep_values[setting]])
            for setting in study.sweeps["settings"]
        },
    }


def smallest_test_class(datasets: list[str], provenance: dict[str, dict[str, Any]]) -> str:
    """The study's smallest test class, and how far one of its images moves balanced accuracy (the mean of the
    classes' recalls): by 1 / (classes x images of that class)."""
    images, title, name, n_classes = min(
        (count, provenance[d]["title"], _class_name(provenance[d], c), len(provenance[d]["counts"]["test"]))
        for d in datasets
        for c, count in enumerate(provenance[d]["counts"]["test"])
    )
    step = 1 / (n_classes * images)
    return f"{title}'s {name}, with {images} images, each of which moves balanced accuracy by {step:.3f}"


def _class_name(provenance: dict[str, Any], index: int) -> str:
    names = provenance.get("class_names") or []
    return f"{names[index]} class" if index < len(names) else f"class {index + 1}"


def _budget_shares(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """Each dataset's labelling budget as a share of its pool, e.g. "46 % of BreastMNIST's pool"."""
    return join_names(
        [
            f"{100 * dataset_sizes(study, provenance, d)['budget'] / sum(provenance[d]['counts']['train']):.0f} % "
            f"of {provenance[d]['title']}'s pool"
            for d in study.datasets
        ]
    )


def _mc_eer_candidates_by_dataset(
    study: Study, provenance: dict[str, dict[str, Any]], refits: int
) -> dict[str, tuple[int, int]]:
    """Per dataset title: its classes and the candidates expected error reduction scores per query there."""
    counts = {}
    for dataset in study.datasets:
        k = len(provenance[dataset]["class_names"])
        batch = label_sizes(study.protocol, k)["batch_size"]
        counts[provenance[dataset]["title"]] = (k, candidates_for_refits(refits, k, batch))
    return counts


def _mc_eer_note(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """Why the study leaves expected error reduction out, if it does: the fewest refits a query costs on its cheapest
    and on its dearest dataset (a batch of candidates at least, each refitted once per class); empty if it runs."""
    spec = study.strategy_specs.get("mc_eer", {})
    if "mc_eer" in study.strategies or "refits_per_query" not in spec:
        return ""
    by_dataset = _mc_eer_candidates_by_dataset(study, provenance, spec["refits_per_query"])
    refits = {title: k * candidates for title, (k, candidates) in by_dataset.items()}
    dearest, cheapest = max(refits, key=refits.get), min(refits, key=refits.get)
    return (
        f": {refits[dearest]} refits per query on {dearest} against {refits[cheapest]} on {cheapest}, more than this "
        "study's compute budget holds, so the study leaves it out"
    )


def _multi_class(study: Study, provenance: dict[str, dict[str, Any]]) -> bool:
    return any(len(provenance[d]["class_names"]) > 2 for d in study.datasets)


def _epistemic_note(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """Whether the study runs epistemic uncertainty sampling (defined for two classes only), and why not."""
    if "epistemic" in study.strategies:
        return "; this study runs it"
    if _multi_class(study, provenance):
        return "; this study, with multi-class sets, leaves it out"
    return "; this study leaves it out"


def _strategies_left_out(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """The Discussion's sentence on the strategies the Methods describe that the study does not run (empty if it runs
    them all)."""
    reasons = {
        "epistemic": "defined for two classes only" if _multi_class(study, provenance) else "not run in this study",
        "mc_eer": "whose cost grows with the classes times the batch",
    }
    left_out = [
        f"{in_sentence(label(name, STRATEGY_LABELS))}, {reason}"
        for name, reason in reasons.items()
        if name not in study.strategies
    ]
    if not left_out:
        return ""
    subject = {1: "One strategy of the literature is", 2: "Two strategies of the literature are"}[len(left_out)]
    return f"{subject} not in the answer: " + ", and ".join(left_out) + " (see Query strategies in the Methods)."


def _mc_eer_candidates(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """How many random candidates expected error reduction scores per query: a fixed number, or as many as its refits
    per query allow on each dataset (``strategies.mc_eer.refits_per_query``) but at least a batch."""
    spec = study.strategy_specs.get("mc_eer", {})
    if "refits_per_query" not in spec:
        return f"{spec.get('max_candidates', 'all')} random candidates"
    refits = spec["refits_per_query"]
    rule = f"as many random candidates as {refits} refits allow, {refits} divided by the classes but at least a batch"
    if "mc_eer" not in study.strategies:
        return rule
    by_count: dict[int, list[str]] = {}
    for title, (_, candidates) in _mc_eer_candidates_by_dataset(study, provenance, refits).items():
        by_count.setdefault(candidates, []).append(title)
    counts = ", ".join(f"{n} on {join_names(names)}" for n, names in sorted(by_count.items(), reverse=True))
    return f"{rule} ({counts})"


def _strategy_notes(study: Study, provenance: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The Methods' and Discussion's phrases on the strategies a study may leave out or cap."""
    return {
        "mc_eer_candidates": _mc_eer_candidates(study, provenance),
        "mc_eer_note": _mc_eer_note(study, provenance),
        "epistemic_note": _epistemic_note(study, provenance),
        "strategies_left_out": _strategies_left_out(study, provenance),
    }


def _class_scaling(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """The sentence on how the protocol's sizes follow the number of classes (``al.scale_with_classes``)."""
    if not study.protocol.get("scale_with_classes", False):
        return "These sizes are the same on every dataset, whatever its number of classes."
    scaled = [
        (provenance[d]["title"], len(provenance[d]["class_names"]), dataset_sizes(study, provenance, d))
        for d in study.datasets
        if len(provenance[d]["class_names"]) != 2
    ]
    rule = (
        "These sizes are those of a two-class dataset: one with k classes gets k/2 times each, rounded up, so that "
        "every dataset starts with as many labels per class and runs as many query cycles"
    )
    if not scaled:
        return f"{rule}; every dataset here has two classes."
    return (
        f"{rule}: "
        + join_names(
            [
                f"{title} ({k} classes) starts with {s['initial_labels']:,}, queries batches of "
                f"{s['batch_size']:,} and stops at {s['budget']:,}"
                for title, k, s in scaled
            ]
        )
        + "."
    )


def _pool_cap(cap: int | None, datasets: list[str], provenance: dict[str, dict[str, Any]]) -> str:
    """What ``al.max_candidates`` does in this study, as a sentence's end: the cap and the pools it changes."""
    if cap is None:
        return "no cap is set in this study, so every query is shown the whole unlabelled pool"
    pools = {provenance[d]["title"]: sum(provenance[d]["counts"]["train"]) for d in datasets}
    larger = [f"{title} ({size:,} images)" for title, size in pools.items() if size > cap]
    where = (
        f"it changes the queries on {join_names(larger)}"
        if larger
        else f"no pool of this study is that large (the largest holds {max(pools.values()):,} images), so it changes "
        "no query here"
    )
    return f"the cap is {cap:,} unlabelled images per query; {where}"


def _strategy_option(study: Study, method: str, option: str) -> Any:
    """The value of ``option`` in the study's first strategy of ``method`` that sets it, else None."""
    for name in study.strategies:
        spec = study.strategy_specs[name]
        if spec.get("method") == method and option in spec:
            return spec[option]
    return None


def _dal_training(per_labelled: int | None) -> str:
    """What Discriminative AL's discriminator is trained on, as a sentence's end."""
    if per_labelled is None:
        return "the whole pool, as scikit-activeml implements it"
    return (
        f"the labelled images and a random subset of at most {per_labelled} unlabelled images per labelled one, drawn "
        "afresh for each batch, and picks among that subset, as its authors' code does; scikit-activeml's "
        "implementation trains on the whole pool"
    )


def _cost_variables(study: Study, provenance: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What bounds the strategies' cost: DAL's training set and the protocol's pool cap."""
    return {
        "pool_cap": _pool_cap(study.protocol.get("max_candidates"), study.datasets, provenance),
        "dal_training": _dal_training(_strategy_option(study, "discriminative_al", "unlabelled_per_labelled")),
    }


def _protocol_sizes(al: Mapping[str, Any]) -> dict[str, int]:
    """The initial set, batch and budget of a two-class dataset, under the names the manuscript quotes."""
    return {"initial": al["initial_labels"], "batch": al["batch_size"], "budget": al["budget"]}


def variables(study: Study, provenance: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Numbers and names quoted in the manuscript's prose (Quarto's ``{{< var >}}`` shortcodes)."""
    al = study.protocol
    evaluation = study.evaluation
    main = main_target(evaluation)
    others = [t for t in study_targets(evaluation) if t != main and t.kind != FULL_POOL_TARGET]
    counts = class_counts(provenance, study.datasets)
    return {
        "al": {"seeds": al["seeds"], **_protocol_sizes(al), "cycles": query_cycles(al)},
        "main_seeds": main_seeds_phrase(study, provenance),
        "bootstrap_resamples": study.evaluation["test_bootstrap"]["resamples"],
        "across": {key: study.evaluation["across_datasets"][key] for key in ("prior_strength", "probability")},
        "target_percents": join_names([percent_key(f) for f in sorted(evaluation["target_fractions"])]),
        "budget_shares": _budget_shares(study, provenance),
        "class_scaling": _class_scaling(study, provenance),
        "target_main": target_text(main, al, counts),
        "target_others": join_names(
            [target_text(t, al, counts).removeprefix("random sampling's mean score ") for t in others]
        ),
        "primary_metric": in_sentence(METRIC_LABELS[study.primary_metric]),
        "n_datasets": len(study.datasets),
        "mid_aulc": study.evaluation["minimal_important_difference"]["aulc"],
        "power_percent": f"{100 * DETECTION_POWER:g}",
        "blas_kernel": PINNED_KERNEL,
        "svm_folds": CalibratedSVC().folds,
        "blas_processors": f"x86-64 processor with {join_names(sorted(flag.upper() for flag in REQUIRED_FLAGS))}",
        "dataset_list": join_names([provenance[d]["title"] for d in study.datasets]),
        "grid": {
            "dataset": _first_image_dataset(study, provenance),
            "images": QUERY_GRID_IMAGES,
            "seed": QUERY_GRID_SEED,
        },
        "image_limitation": _image_limitation(
            sorted({shape_text(provenance[d]) for d in study.datasets if is_image(provenance[d])})
        ),
        "n_strategies": len(study.strategies),
        "n_learners": len(study.learners),
        "main_learner": in_sentence(label(study.main_learner, LEARNER_LABELS)),
        "learner_strategies": join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study.learner_strategies]),
        "n_learner_strategies": len(study.learner_strategies),
        "sweeps": _sweep_variables(study, provenance),
        **_strategy_notes(study, provenance),
        "learner_datasets": join_names(titles(provenance, study.learner_datasets)),
        "scored_tests": scored_test_note(study, provenance) or "Every run scores the whole test set.",
        "qbc_members": study.strategy_specs.get("qbc_vote_entropy", {}).get("n_members", 5),
        **_cost_variables(study, provenance),
        "n_runs": n_runs(study),
        "smallest_test_class": smallest_test_class(study.datasets, provenance),
    }
