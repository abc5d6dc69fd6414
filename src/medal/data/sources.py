"""Data sources: MedMNIST files (mirror folder or Zenodo) and scikit-learn's bundled WDBC data.

Each source is turned into one canonical ``.npz`` (keys ``X_train, y_train, X_test, y_test`` and,
for MedMNIST, ``X_val, y_val``; labels as 1-D int64) whose bytes depend only on the data, plus a
provenance JSON that records which copy was used and its checksums.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from medal.errors import UserError
from medal.fileio import load_npz, md5_file, npz_bytes, write_bytes_atomic, write_json_atomic

# Where a missing MedMNIST file is downloaded to: inside the project, like every other output.
DOWNLOADS = "data/downloads"
MEDMNIST_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels")

# Facts about each dataset that the data itself does not carry; official class counts per split
# are those of the MedMNIST v2 release (Yang et al. 2023).
DATASET_INFO: dict[str, dict[str, Any]] = {
    "breastmnist": {
        "title": "BreastMNIST",
        "modality": "Breast ultrasound",
        "description": "breast ultrasound images [@aldhabyani2020dataset] from MedMNIST v2 [@yang2023medmnist]; "
        "the pool is the official training split, the test set the official test split, and the validation split is "
        "not used",
        "class_names": ["malignant", "normal or benign"],
        "citation": "yang2023medmnist",
        "licence": "CC BY 4.0",
        "official_counts": {"train": [147, 399], "val": [21, 57], "test": [42, 114]},
    },
    "pneumoniamnist": {
        "title": "PneumoniaMNIST",
        "modality": "Paediatric chest X-ray",
        "description": "paediatric chest X-rays [@kermany2018identifying] from MedMNIST v2 [@yang2023medmnist]; "
        "the pool is the official training split, the test set the official test split, and the validation split is "
        "not used",
        "class_names": ["normal", "pneumonia"],
        "citation": "yang2023medmnist",
        "licence": "CC BY 4.0",
        "official_counts": {"train": [1214, 3494], "val": [135, 389], "test": [234, 390]},
    },
    "wdbc": {
        "title": "WDBC",
        "modality": "Breast cytology",
        "description": "features of cell nuclei from breast fine-needle aspirates [@wolberg1995wdbc], as bundled with "
        "scikit-learn; it is split once into pool and test, stratified, with a fixed seed",
        "class_names": ["malignant", "benign"],
        "citation": "wolberg1995wdbc",
        "licence": "CC BY 4.0",
        "official_counts": None,
    },
}


def _expand(folder: str, root: Path) -> Path:
    path = Path(os.path.expanduser(folder))
    return path if path.is_absolute() else root / path


def find_medmnist_file(file_name: str, folders: list[Path]) -> Path | None:
    """First existing ``file_name`` in ``folders``, or None."""
    return next((folder / file_name for folder in folders if (folder / file_name).is_file()), None)


def download(url: str, destination: Path, expected_md5: str, searched: str = "the mirror folders") -> None:
    """Download ``url`` over HTTPS to ``destination``, keeping it only if its md5 matches."""
    if not url.startswith("https://"):
        raise UserError(f"refusing to download from a non-HTTPS URL: {url}; fix datasets.*.url in params.yaml")
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()
    fd, tmp = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected_md5:
            raise UserError(
                f"download of {url}: md5 {digest.hexdigest()} but expected {expected_md5}; retry, or place the "
                "official file in a mirror folder"
            )
        os.replace(tmp, destination)
    except OSError as exc:
        raise UserError(
            f"{destination.name} is not in {searched} and downloading {url} failed ({exc.__class__.__name__}); "
            f"put the file in one of data.mirror_dirs, or download it from that URL"
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def locate_medmnist(name: str, spec: dict[str, Any], mirror_dirs: list[str], root: Path) -> tuple[Path, str]:
    """Find (or download into the project's ``data/downloads``) the MedMNIST file and tell which known
    copy it is: 'official' or 'mirror'."""
    known = {md5: variant for variant, md5 in spec["source_md5"].items()}
    folders = [_expand(folder, root) for folder in [*mirror_dirs, DOWNLOADS]]
    path = find_medmnist_file(spec["file"], folders)
    if path is None:
        target = folders[-1] / spec["file"]
        searched = ", ".join(str(folder) for folder in folders)
        print(f"{name}: not in {searched}; downloading {spec['url']}", file=sys.stderr)
        download(spec["url"], target, spec["source_md5"]["official"], searched)
        path = target
    got = md5_file(path)
    refused = (spec.get("refused_md5") or {}).get(got)
    if refused:
        raise UserError(f"{path}: md5 {got} is {refused}")
    if got not in known:
        expected = " or ".join(f"{md5} ({variant})" for variant, md5 in spec["source_md5"].items())
        raise UserError(
            f"{path}: md5 {got} does not match the pin {expected}; delete the file or replace it with the official "
            f"one from {spec['url']}"
        )
    return path, known[got]


def canonical_medmnist(path: Path, n_classes: int) -> dict[str, np.ndarray]:
    """Load a MedMNIST file (pickle refused) into the canonical arrays, checking keys, shapes and labels."""
    raw = load_npz(path)  # names the file when it is unreadable or needs pickle
    missing = [key for key in MEDMNIST_KEYS if key not in raw]
    if missing:
        raise UserError(f"{path}: missing arrays {', '.join(missing)}; this is not a MedMNIST file")
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "val", "test"):
        images, labels = raw[f"{split}_images"], raw[f"{split}_labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise UserError(
                f"{path}: {split}_images must be uint8 of shape (n, h, w), got {images.dtype} {images.shape}"
            )
        if labels.dtype.kind not in "iu":
            raise UserError(
                f"{path}: {split}_labels must hold integer class indices, got {labels.dtype}; "
                "the file is corrupted or not a MedMNIST file"
            )
        labels = labels.reshape(-1).astype(np.int64)
        if len(labels) != len(images):
            raise UserError(f"{path}: {split} has {len(images)} images but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):  # an empty split: check_canonical
            raise UserError(f"{path}: {split}_labels outside 0..{n_classes - 1}; the file is corrupted")
        arrays[f"X_{split}"] = images
        arrays[f"y_{split}"] = labels
    return arrays


def check_canonical(arrays: dict[str, np.ndarray], where: str) -> None:
    """Reject data no study can run on: an empty split, samples of different shapes in different
    splits, a training split (the pool) of a single class, non-finite features."""
    splits = [key[2:] for key in arrays if key.startswith("X_")]
    for split in splits:
        if len(arrays[f"y_{split}"]) == 0:
            raise UserError(f"{where}: the {split} split is empty; every split needs samples")
    shapes = {split: arrays[f"X_{split}"].shape[1:] for split in splits}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{split} {shape}" for split, shape in shapes.items())
        raise UserError(f"{where}: samples differ in shape between splits ({listed}); resize them to one shape")
    if len(np.unique(arrays["y_train"])) < 2:
        raise UserError(
            f"{where}: the training split (the pool) holds a single class; active learning needs two or more"
        )
    for split in splits:
        X = arrays[f"X_{split}"]
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            raise UserError(f"{where}: the {split} split has NaN or infinite features; remove or impute them")


def canonical_wdbc(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """scikit-learn's bundled WDBC data with a fixed, seeded, stratified train/test split.

    Labels are recoded so that 0 = malignant and 1 = benign, as in scikit-learn.
    """
    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data,
        data.target.astype(np.int64),
        test_size=spec["test_fraction"],
        random_state=spec["split_seed"],
        stratify=data.target,
    )
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}


def _load_source(name: str, spec: dict[str, Any], params: dict[str, Any], n_classes: int, root: Path) -> tuple:
    """The canonical arrays of one dataset from its source, which copy they came from (variant), the
    source file's md5 and URL, and what to name in a data error (the file, or the dataset)."""
    if spec["source"] == "medmnist":
        path, variant = locate_medmnist(name, spec, params["data"]["mirror_dirs"], root)
        return canonical_medmnist(path, n_classes), variant, spec["source_md5"][variant], spec["url"], str(path)
    if spec["source"] == "sklearn_breast_cancer":
        return canonical_wdbc(spec), "bundled", None, None, name
    raise UserError(
        f"params.yaml: datasets.{name}.source '{spec['source']}' unknown; valid: medmnist, sklearn_breast_cancer"
    )


def _check_pin(name: str, variant: str, canonical_md5: str, pinned: str | None) -> None:
    """The canonical file must match its pin; without one, print the value to pin."""
    if pinned is None:
        print(
            f"{name}: canonical md5 for the {variant} copy is {canonical_md5}; pin it in params.yaml", file=sys.stderr
        )
    elif pinned != canonical_md5:
        raise UserError(
            f"{name}: canonical file md5 {canonical_md5} but params.yaml pins {pinned} for the {variant} copy; "
            "check the source file, or update the pin if the change is intended"
        )


def fetch(name: str, params: dict[str, Any], out_dir: Path, root: Path = Path(".")) -> dict[str, Any]:
    """Produce ``out_dir/<name>.npz`` and ``out_dir/<name>.json`` for one dataset; return the provenance."""
    spec = params["datasets"][name]
    info = DATASET_INFO.get(name)
    if info is None:
        raise UserError(f"dataset '{name}' has no description in medal.data.sources.DATASET_INFO; add one")
    n_classes = len(info["class_names"])
    arrays, variant, source_md5, url, where = _load_source(name, spec, params, n_classes, root)
    check_canonical(arrays, where)
    payload = npz_bytes(arrays)
    canonical_md5 = hashlib.md5(payload).hexdigest()
    _check_pin(name, variant, canonical_md5, spec["canonical_md5"].get(variant))
    described = ("title", "modality", "description", "class_names", "citation", "licence", "official_counts")
    provenance = {
        "name": name,
        **{key: info[key] for key in described},
        "variant": variant,
        "copy_note": (spec.get("copy_notes") or {}).get(variant),
        "source_md5": source_md5,
        "canonical_md5": canonical_md5,
        "url": url,
        "counts": {
            split: np.bincount(arrays[f"y_{split}"], minlength=n_classes).tolist()
            for split in ("train", "val", "test")
            if f"y_{split}" in arrays
        },
        "shape": list(arrays["X_train"].shape[1:]),
    }
    write_bytes_atomic(out_dir / f"{name}.npz", payload)
    write_json_atomic(out_dir / f"{name}.json", provenance)
    return provenance
