"""Display names of strategies, learners and settings, and the formatting every table and sentence shares."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from medal.design import label_sizes
from medal.study import Study

# A space at which a line must not break (inside an interval, before a unit).
NBSP = "\u00a0"
# The minus sign numbers are printed with (a hyphen is shorter and may break a line).
MINUS = "\u2212"

STRATEGY_LABELS = {
    "random": "Random",
    "least_confident": "Least confident",
    "margin": "Margin",
    "entropy": "Entropy",
    "density_weighted": "Density-weighted entropy",
    "qbc_vote_entropy": "QBC vote entropy",
    "qbc_kl_divergence": "QBC KL divergence",
    "epistemic": "Epistemic uncertainty",
    "mcpal": "McPAL",
    "mc_eer": "MC expected error reduction",
    "coreset": "Core-Set",
    "typiclust": "TypiClust",
    "probcover": "ProbCover",
    "badge": "BADGE",
    "dal": "Discriminative AL",
}


LEARNER_LABELS = {
    "logreg": "Logistic regression (fit)",
    "sgd_partial_fit": "SGD log-loss (partial_fit)",
    "sgd_warm_start": "SGD log-loss (warm start)",
    "sgd_refit": "SGD log-loss (fit)",
    "gnb_partial_fit": "Gaussian NB (partial_fit)",
    "gnb_refit": "Gaussian NB (fit)",
    "mlp_partial_fit": "MLP (partial_fit)",
    "mlp_warm_start": "MLP (warm start)",
    "mlp_refit": "MLP (fit)",
    "random_forest": "Random forest (fit)",
    "svm_rbf": "RBF SVM (fit)",
}


ESTIMATOR_LABELS = {
    "logistic_regression": "Logistic regression",
    "sgd_log_loss": "SGD log-loss",
    "gaussian_nb": "Gaussian NB",
    "mlp": "MLP",
    "random_forest": "Random forest",
    "svm_rbf": "RBF SVM",
}


def label(name: str, labels: dict[str, str]) -> str:
    """Display name for a params.yaml key; unknown keys fall back to a readable form of the key."""
    return labels.get(name, name.replace("_", " ").capitalize())


def merged_label(name: str, merged: dict[str, list[str]], labels: dict[str, str]) -> str:
    """A strategy's display name, followed by those merged into it because they queried the same images:
    'Least confident (= Margin, Entropy)'."""
    others = merged.get(name, [])
    return label(name, labels) + (f" (= {', '.join(label(o, labels) for o in others)})" if others else "")


PROPER_NAMES = ("Gaussian",)


def in_sentence(text: str) -> str:
    """A display name inside a sentence: 'Logistic regression' -> 'logistic regression'; names with inner capitals
    ('SGD', 'Core-Set', 'McPAL') or proper names ('Gaussian NB') unchanged."""
    first = text.split(" ")[0]
    if first in PROPER_NAMES or any(c.isupper() for c in first[1:]):
        return text
    return text[:1].lower() + text[1:]


def capitalised(text: str) -> str:
    """The text with its first letter upper-case, to open a sentence."""
    return text[:1].upper() + text[1:]


def join_names(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'; empty for no names."""
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


CRITERION_LABELS = {"stabilizing_predictions": "Stabilizing predictions", "expected_error": "Expected error"}


SETTING_LABELS = {
    "batch_size": "Batch size",
    "initial_labels": "Initial labelled images",
    "label_noise": "Oracle label noise",
    "representation": "Features",
    "class_weight": "Class weight",
}


REPRESENTATION_LABELS = {
    "scattering_g1": "Scattering (γ 1)",
    "scattering_g03": "Scattering (γ 0.3)",
    "learned": "Learned",
    "hog": "HOG",
    "pca50": "PCA (50)",
    "raw_pixels": "Raw pixels",
}


def supplement_ref(identifier: str) -> str:
    """How generated text in the paper names a figure or table of the supplement ("Table S3", from the variables
    the report stage writes): a cross-reference cannot reach into another document."""
    return "{{< var supp." + identifier + " >}}"


def fmt_ci(mean: float, low: float, high: float, digits: int = 3) -> str:
    """``mean [low, high]``, or just the mean when the interval is undefined."""
    if math.isnan(mean):
        return "n/a"

    def number(value: float) -> str:  # + 0.0 turns -0.0 into 0.0; a minus sign, not a hyphen
        return f"{round(value, digits) + 0.0:.{digits}f}".replace("-", MINUS)

    if math.isnan(low):
        return number(mean)
    return f"{number(mean)} [{number(low)}, {number(high)}]"


CELL_WIDTH_CAP = 36
CELL_PADDING = 2  # a table cell's inset, in characters
PAGE_WIDTH = 100  # characters of table text across the page, padding included
SOFT_HYPHEN = "\u00ad"


def breakable(cell: str) -> str:
    """``cell`` with a soft hyphen where a word turns into a closing run of capitals ("Breast-MNIST",
    "Organ-AMNIST"), so that a narrow column can wrap a dataset's name; code (in backticks) is left alone."""
    if "`" in cell:
        return cell
    return re.sub(r"(?<=[a-z])(?=[A-Z]{4,}\b)", SOFT_HYPHEN, cell)


def markdown_table(header: list[str], rows: list[list[str]], caption: str, label_id: str, text_columns: int = 2) -> str:
    """A pipe table with a caption and a cross-reference id, understood by Quarto and by Pandoc.

    The first ``text_columns`` columns are left-aligned, the rest (numbers) right-aligned. The
    separator's dash counts are proportional to the room each column needs (below): Pandoc turns them
    into relative column widths.
    """
    header = [breakable(cell) for cell in header]
    rows = [[breakable(cell) for cell in row] for row in rows]

    # A column needs room for its longest unbreakable word (a code name, numbers joined by non-breaking spaces, a
    # dataset's name up to its soft hyphen) and would like room for its longest body cell up to a cap (longer text
    # wraps; a header always may), each plus the cell's padding. Where the wishes do not fit a page's width, each
    # column gets its need and shares what is left in proportion to what it wished beyond that.
    def parts(cell: str) -> list[str]:
        return re.split(f"[ {SOFT_HYPHEN}]", cell.replace(SOFT_HYPHEN, "-" + SOFT_HYPHEN))

    columns = list(zip(header, *rows))
    need = [CELL_PADDING + max(len(part) for cell in column for part in parts(cell)) for column in columns]
    wish = [
        max(
            n, CELL_PADDING + min(CELL_WIDTH_CAP, max((len(c.replace(SOFT_HYPHEN, "")) for c in column[1:]), default=0))
        )
        for n, column in zip(need, columns)
    ]
    if sum(wish) > PAGE_WIDTH:
        room = max(0, PAGE_WIDTH - sum(need)) / max(1, sum(wish) - sum(need))
        wish = [n + (w - n) * min(1.0, room) for n, w in zip(need, wish)]
    total = sum(wish)
    dashes = [max(3, round(100 * width / total)) for width in wish]
    separator = [":" + "-" * n if i < text_columns else "-" * n + ":" for i, n in enumerate(dashes)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(separator) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n: {caption} {{#{label_id}}}\n"


def strategy_label(name: str, study: Study) -> str:
    """A strategy's display name with those merged into it (see :meth:`Study.shown`)."""
    return merged_label(name, study.merged, STRATEGY_LABELS)


def class_counts(provenance: dict[str, dict[str, Any]], datasets: Iterable[str]) -> list[int]:
    """The number of classes of each of ``datasets``."""
    return [len(provenance[d]["class_names"]) for d in datasets]


def dataset_sizes(study: Study, provenance: dict[str, dict[str, Any]], dataset: str) -> dict[str, int]:
    """The initial set, batch and budget of ``dataset``'s runs (:func:`~medal.design.label_sizes`)."""
    return label_sizes(study.protocol, len(provenance[dataset]["class_names"]))


def study_budgets(study: Study, provenance: dict[str, dict[str, Any]]) -> list[int]:
    """The distinct label budgets of the study's datasets, smallest first (one unless the budget scales)."""
    return sorted({dataset_sizes(study, provenance, d)["budget"] for d in study.datasets})


def budget_phrase(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """'250 labels', or 'each dataset's budget (250 to 1,375 labels)' where the budget scales with the classes."""
    budgets = study_budgets(study, provenance)
    if len(budgets) == 1:
        return f"{budgets[0]} labels"
    return f"each dataset's budget ({budgets[0]:,} to {budgets[-1]:,} labels)"


def seeds_phrase(study: Study) -> str:
    """The seeds of the learner comparison: '10 seeds', or '5 seeds (logistic regression: 10)' when the main learner
    runs more on its datasets."""
    seeds, main = study.seeds, study.main_learner
    main_seeds = sorted({study.seeds_for(main, d) for d in study.learner_datasets} or {study.main_seeds})
    if main_seeds == [seeds]:
        return f"{seeds} seeds"
    return f"{seeds} seeds ({in_sentence(label(main, LEARNER_LABELS))}: {' or '.join(map(str, main_seeds))})"


def main_seeds_phrase(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """The main learner's seeds: '10 seeds', or '10 seeds (4 on BloodMNIST and OrganAMNIST, 6 on RetinaMNIST)'."""
    fewer: dict[int, list[str]] = {}
    for dataset, seeds in study.main_seed_counts().items():
        if seeds != study.main_seeds:
            fewer.setdefault(seeds, []).append(provenance[dataset]["title"])
    if not fewer:
        return f"{study.main_seeds} seeds"
    where = ", ".join(f"{seeds} on {join_names(titles)}" for seeds, titles in sorted(fewer.items()))
    if sum(map(len, fewer.values())) == len(study.datasets):  # no dataset runs study.main_seeds
        return f"{min(fewer)} to {max(fewer)} seeds ({where})" if len(fewer) > 1 else f"{min(fewer)} seeds"
    return f"{study.main_seeds} seeds ({where})"


def titles(provenance: dict[str, dict[str, Any]], datasets: Iterable[str]) -> list[str]:
    """The titles of ``datasets``, in their order."""
    return [provenance[d]["title"] for d in datasets]


def scored_test_counts(study: Study, provenance: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per dataset whose test set is cut (``evaluation.max_test_images``): the test images scored, of how many."""
    cap = study.max_test_images
    counts = {d: sum(provenance[d]["counts"]["test"]) for d in study.datasets}
    return {d: (cap, n) for d, n in counts.items() if cap is not None and n > cap}


def scored_test_note(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """A sentence naming the datasets scored on a subset of their test images, or '' where every test image counts."""
    cut = scored_test_counts(study, provenance)
    if not cut:
        return ""
    parts = [f"{provenance[d]['title']} {scored:,} of its {total:,} test images" for d, (scored, total) in cut.items()]
    return (
        "The runs score a seeded random subset of each larger test set, stratified by class "
        f"(`evaluation.max_test_images`): {join_names(parts)}. "
    )
