"""The experimental-setup section: datasets and their provenance, the parameters, the machine and run time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from medal.data.features import HogFeatures, PatchKMeansFeatures, ScatteringFeatures
from medal.report.text import markdown_table, scored_test_counts
from medal.reproduce.environment import RUN_PACKAGES, format_duration
from medal.study import RESULT_SECTIONS, Study

# How each kind of copy is named in the datasets table (``variant`` in a dataset's provenance).
COPY_NAMES = {
    "mirror": "GitHub mirror",
    "official": "Zenodo (official)",
    "bundled": "scikit-learn bundled",
    "file": "local file",
    "folder": "image folder",
}


def _source_sentence(p: dict[str, Any]) -> str:
    """Where a dataset that is not bundled with scikit-learn was read from, with its source checksum."""
    if p["variant"] == "folder":
        return (
            f"{p['title']} was read from the image folder `data/sources/{p['name']}`, whose image files' paths and "
            f"md5s have the digest `{p['source_md5']}`"
        )
    source = {
        "official": "the official Zenodo file",
        "mirror": "a copy from a public GitHub repository, not the official Zenodo file,",
        "file": "a local file in MedMNIST's layout",
    }[p["variant"]]
    return f"{p['title']} was read from {source} with source-file md5 `{p['source_md5']}`"


def datasets_table(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """One row per dataset as used: modality, number of classes, pool and test sizes, the pool's imbalance ratio,
    copy and checksum (class names and counts: :func:`classes_table`)."""
    rows = []
    scored = scored_test_counts(study, provenance)
    for dataset in study.datasets:
        p = provenance[dataset]
        pool, test = p["counts"]["train"], p["counts"]["test"]
        test_cell = f"{sum(test)} ({scored[dataset][0]} scored)" if dataset in scored else str(sum(test))
        rows.append(
            [
                p["title"],
                p["modality"],
                str(len(pool)),
                str(sum(pool)),
                test_cell,
                f"{max(pool) / min(pool):.1f}" if min(pool) else "–",
                COPY_NAMES[p["variant"]],
                f"`{p['canonical_md5'][:8]}`",
            ]
        )
    header = ["Dataset", "Modality", "Classes", "Pool", "Test", "Imbalance", "Copy used", "md5"]
    caption = (
        "Datasets as used in this study, computed from the canonical data files: imbalance, the pool's largest class "
        "over its smallest; md5: first digits of the checksum of the canonical file the fetch stage writes (the source "
        "file's md5 is in the text). The classes and their counts are in the supplement."
        + (" Test, n scored: the runs score a seeded subset of n test images, stratified by class." if scored else "")
    )
    return markdown_table(header, rows, caption, "tbl-datasets", text_columns=2)


def classes_table(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """Every class of every dataset with its images in the pool and in the test set."""
    rows = []
    for dataset in study.datasets:
        p = provenance[dataset]
        rows.append([f"**{p['title']}**", "", ""])
        for name, pool, test in zip(p["class_names"], p["counts"]["train"], p["counts"]["test"]):
            rows.append([name, str(pool), str(test)])
    caption = "The classes of each dataset: images in the pool and in the test set."
    return markdown_table(["Class", "Pool", "Test"], rows, caption, "tbl-classes", text_columns=1)


def provenance_text(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """Which copy of each dataset was used and how its class counts compare with the official release."""
    sentences = []
    for dataset in study.datasets:
        p = provenance[dataset]
        if p["variant"] == "bundled":
            sentences.append(
                f"{p['title']} is the copy bundled with scikit-learn (canonical md5 `{p['canonical_md5']}`)."
            )
            continue
        text = _source_sentence(p) + " (the canonical file made from it is in @tbl-datasets)."
        differences = []
        for split in ("train", "val", "test") if p.get("official_counts") else ():
            got, official = p["counts"][split], p["official_counts"][split]
            if got != official:
                name = "pool (training split)" if split == "train" else f"{split} split"
                per_class = ", ".join(
                    f"{g} {c} instead of {o}" for g, o, c in zip(got, official, p["class_names"]) if g != o
                )
                differences.append(f"its {name} holds {per_class}")
        if differences:
            text += " Compared with the official release, " + "; ".join(differences) + "."
        elif p.get("official_counts"):
            text += " Its split sizes and class counts equal those of the official release."
        if p.get("copy_note"):
            text += " " + p["copy_note"]
        sentences.append(text)
    return " ".join(sentences) + "\n"


def _features(settings: dict[str, Any]) -> str:
    """What a learner sees, in words, for one ``prepare`` entry (settings left out take their defaults)."""
    kind = settings["features"]
    if kind == "pca":
        return f"the first {settings['pca_components']} principal components of the standardised pixels"
    if kind == "raw":
        return "the standardised raw features"
    if kind == "learned":
        values = {**PatchKMeansFeatures().get_params(), **settings}
        size = values["patch_size"]
        text = (
            f"features learned from the pool without labels (@sec-features): {values['n_centroids']} k-means "
            f"centroids of {values['n_patches']} whitened {size} × {size} patches, triangle activation and "
            f"sum-pooling over the four image quadrants ({4 * values['n_centroids']} features), standardised"
        )
    elif kind == "scattering":
        values = {**ScatteringFeatures().get_params(), **settings}
        scattering = ScatteringFeatures(**{key: values[key] for key in ("J", "L", "max_order")})
        text = (
            f"the wavelet scattering transform of the image (@sec-features; {values['J']} scales, {values['L']} "
            f"orientations, order {values['max_order']}: {scattering.n_coefficients()} coefficients per "
            f"{2 ** values['J']} × {2 ** values['J']}-pixel block and channel), standardised"
        )
    else:
        values = {**HogFeatures().get_params(), **settings}
        cell, block = values["pixels_per_cell"], values["cells_per_block"]
        text = (
            f"histograms of oriented gradients ({values['orientations']} orientations, {cell} × {cell}-pixel cells, "
            f"{block} × {block}-cell blocks), standardised"
        )
    if "pca_components" in settings:
        text += f", then projected on their first {settings['pca_components']} principal components"
    if "kernel_components" in settings:
        text += (
            f", then mapped by a radial-basis-function kernel approximation (Nystroem) on "
            f"{settings['kernel_components']} pool images with γ = {settings['kernel_gamma']:g} / dimension, "
            "and standardised again"
        )
    return text


def data_description(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """One generated paragraph describing each dataset of the study and its feature representation."""
    sentences = []
    for dataset in study.datasets:
        p = provenance[dataset]
        if is_image(p):
            kind = f"{shape_text(p)} {'grey-scale' if len(p['shape']) == 2 else 'colour'} images"
        else:
            kind = f"{shape_text(p)} features per sample"
        features = _features(study.feature_specs[dataset])
        sentences.append(f"{p['title']} holds {kind}: {p['description']}. Its learners see {features}.")
    return " ".join(sentences) + "\n"


def is_image(provenance: dict[str, Any]) -> bool:
    """Whether a dataset's samples are images, grey or colour (rather than feature vectors)."""
    return len(provenance["shape"]) >= 2


def shape_text(provenance: dict[str, Any]) -> str:
    """A sample's shape as printed in the paper, e.g. '28 × 28' (an image's channels are not counted)."""
    return " × ".join(str(n) for n in provenance["shape"][:2])


def _setting(value: Any, nested: bool = False) -> str:
    """A params.yaml value as table text: lists in brackets, mappings as ``key=value`` (in parentheses when nested)."""
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}={_setting(v, True)}" for k, v in value.items())
        return f"({text})" if nested else text
    if isinstance(value, tuple):
        return "[" + ", ".join(_setting(v, True) for v in value) + "]"
    return "null" if value is None else str(value)


def _flatten(key: str, value: Any) -> list[tuple[str, Any]]:
    """(dotted key, value) rows: nested mappings are split down to mappings of plain values."""
    if isinstance(value, Mapping) and any(isinstance(v, Mapping) for v in value.values()):
        return [row for k, v in value.items() for row in _flatten(f"{key}.{k}", v)]
    return [(key, value)]


def parameters_table(study: Study) -> str:
    """Every setting of ``params.yaml`` that decides a result, as written there (features: of the study's datasets)."""
    rows = []
    for section in RESULT_SECTIONS:
        for name, value in study.settings[section].items():
            if section == "prepare" and name not in study.datasets:
                continue
            key = f"{section}.{name}"
            pairs = [(key, value)] if section in ("learners", "strategies") else _flatten(key, value)
            rows += [[f"`{k}`", _setting(v).replace("|", "\\|")] for k, v in pairs]
    caption = (
        "Every setting of `params.yaml` that decides a result, as the pipeline read it for this paper; "
        "`dvc exp run -S key=value` changes one."
    )
    return markdown_table(["Setting", "Value"], rows, caption, "tbl-params", text_columns=2)


def _values(records: list[dict[str, Any]], section: str, key: str) -> str:
    """The value all stages recorded, or every distinct value when stages ran in different environments."""
    seen = sorted({str(r["environment"][section][key]) for r in records})
    return " / ".join(seen) or "not recorded"


def environment_table(records: list[dict[str, Any]], renderer_versions: dict[str, str]) -> str:
    """Hardware and software of the experiment stages (as they recorded them) and of the build tools."""
    rows = [
        ["CPU", _values(records, "machine", "cpu")],
        ["Logical cores", _values(records, "machine", "logical_cores")],
        ["Memory (GiB)", _values(records, "machine", "memory_gib")],
        ["Operating system", _values(records, "machine", "os")],
        ["Python", _values(records, "machine", "python")],
        [
            "BLAS (library version, kernel)",
            " / ".join(
                sorted(
                    {"; ".join(r["environment"]["platform"]["blas"]) for r in records if "platform" in r["environment"]}
                )
            )
            or "not recorded",
        ],
        *([name, _values(records, "versions", name)] for name in RUN_PACKAGES),
        *([name, value] for name, value in renderer_versions.items()),
    ]
    caption = (
        "Hardware and software of this build: the machine and library versions every experiment stage "
        "recorded when it ran (values joined by a slash where stages differed), then the versions of the tools "
        "that built the figures and the paper."
    )
    return markdown_table(["Item", "Value"], rows, caption, "tbl-environment", text_columns=2)


def json_key(value: Any) -> str:
    """``value`` as canonical JSON, to collect equal records in a set."""
    return json.dumps(value, sort_keys=True)


def _where(computed_on: dict[str, Any]) -> str:
    """Where runs were computed, e.g. "2 local processes" or "a Dask cluster of 8 workers"."""
    workers = computed_on["workers"]
    if computed_on["dask"]:
        return f"a Dask cluster of {workers} worker{'s' if workers > 1 else ''}"
    return f"{workers} local process{'es' if workers > 1 else ''}"


def runtime_text(records: list[dict[str, Any]]) -> str:
    """One sentence on the experiment stages' wall time and parallelism in this build."""
    if not records:
        return "No experiment stage recorded its run time in this build.\n"
    runs = sum(r["runs"] for r in records)
    reused = sum(r["reused"] for r in records)
    workers = sorted({_where(r["computed_on"]) for r in records if r.get("computed_on")})
    sentence = (
        f"In this build the {len(records)} experiment stages ran {runs} active-learning runs in "
        f"{format_duration(sum(r['wall_seconds'] for r in records))} of wall time"
    )
    if workers:
        sentence += f", each stage computing on {' or '.join(workers)}"
    if reused:
        sentence += f"; {reused} runs were kept from an interrupted earlier attempt and not recomputed"
    republished = sum(r.get("republished", 0) for r in records)
    if republished:
        sentence += (
            f"; {republished} runs were published again from an earlier build with the same fingerprint (task, "
            "settings, data, code and numerical platform), not recomputed"
        )
    submissions = {json_key(r["submission"]) for r in records if r.get("submission")}
    for submission in map(json.loads, sorted(submissions)):
        sentence += (
            f"; {submission['runs']} runs of {submission['stages']} stages were computed ahead, all at once, by a "
            f"study-wide submission on {_where(submission)} in "
            f"{format_duration(submission['wall_seconds'])}, and their stages only published them"
        )
    return sentence + ".\n"
