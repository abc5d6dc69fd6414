"""Display names of strategies, learners and settings, and the formatting every table and sentence shares."""

from __future__ import annotations

import math
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


def markdown_table(header: list[str], rows: list[list[str]], caption: str, label_id: str, text_columns: int = 2) -> str:
    """A pipe table with a caption and a cross-reference id, understood by Quarto and by Pandoc.

    The first ``text_columns`` columns are left-aligned, the rest (numbers) right-aligned. The
    separator's dash counts are proportional to each column's longest cell: Pandoc turns them
    into relative column widths.
    """
    # A column needs room for its longest unbreakable word (a code name, or numbers joined by non-breaking
    # spaces); longer text wraps, so its length counts only up to a cap, which leaves room for columns of
    # unbreakable names.
    widths = [
        max(
            max(len(word) for cell in column for word in cell.split(" ") or [""]),
            min(CELL_WIDTH_CAP, max(len(cell) for cell in column)),
        )
        for column in zip(header, *rows)
    ]
    total = sum(widths)
    dashes = [max(6, round(60 * width / total)) for width in widths]
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
    """'10 seeds', or '10 seeds (logistic regression: 20)' when the main learner runs more."""
    seeds, main = study.seeds, study.main_learner
    main_seeds = study.seeds_for(main)
    if main_seeds == seeds:
        return f"{seeds} seeds"
    return f"{seeds} seeds ({in_sentence(label(main, LEARNER_LABELS))}: {main_seeds})"
