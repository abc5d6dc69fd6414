"""Data sources: MedMNIST files (mirror folder or Zenodo), any file in MedMNIST's layout (``npz``), a labelled
image folder (``image_folder``, :mod:`medal.data.images`) and scikit-learn's bundled WDBC data.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from medal.data.images import COLOURS, read_folder
from medal.errors import UserError
from medal.fileio import load_npz, md5_file, npz_bytes, write_bytes_atomic, write_json_atomic
from medal.layout import user_root

# Where a missing MedMNIST file is downloaded to: inside the project, like every other output.
DOWNLOADS = "data/downloads"
MEDMNIST_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels")

SOURCES = ("medmnist", "npz", "image_folder", "sklearn_breast_cancer")
# Where each dataset's own input lives, a dependency of its fetch stage in dvc.yaml: an image folder's images,
# or for the other sources a short note (their data is pinned by md5 in params.yaml).
SOURCE_DIR = "data/sources"
# The keys a ``datasets.<name>`` entry may hold (which ones a source needs: :func:`check_spec`).
DATASET_KEYS = (
    "source",
    "file",
    "url",
    "source_md5",
    "canonical_md5",
    "copy_notes",
    "refused_md5",
    "test_fraction",
    "split_seed",
    "path",
    "md5",
    "colour",
    "image_size",
    "multi_label",
    "about",
)
# What the paper says about a dataset (``datasets.<name>.about`` in params.yaml); every key is optional.
ABOUT_KEYS = ("title", "modality", "description", "class_names", "citation", "licence", "official_counts", "ordinal")


def check_spec(name: str, spec: dict[str, Any], in_study: bool) -> None:
    """The settings a ``datasets.<name>`` entry of its source needs, with one-line errors naming the key."""
    where = f"params.yaml: datasets.{name}"
    source = spec.get("source")
    if source not in SOURCES:
        raise UserError(f"{where}.source '{source}' unknown; valid: {', '.join(SOURCES)}")
    if spec.get("multi_label") and in_study:
        raise UserError(
            f"{where} is multi-label (several findings per image); the study needs one class per image, so remove "
            f"{name} from study.datasets"
        )
    about = spec.get("about") or {}
    if not isinstance(about, dict) or set(about) - set(ABOUT_KEYS):
        raise UserError(f"{where}.about may hold only {', '.join(ABOUT_KEYS)}")
    if source == "npz" and not isinstance(spec.get("path"), str):
        raise UserError(f"{where}.path must name the .npz file (MedMNIST's layout)")
    if source == "medmnist" and not (
        isinstance(spec.get("file"), str)
        and isinstance(spec.get("url"), str)
        and isinstance(spec.get("source_md5"), dict)
    ):
        raise UserError(f"{where} needs file, url and source_md5 (official: the Zenodo md5) for a MedMNIST source")
    if source != "image_folder":
        return
    if spec.get("colour", "grey") not in COLOURS:
        raise UserError(f"{where}.colour must be one of {', '.join(COLOURS)}")
    size = spec.get("image_size")
    if size is not None and not (
        isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)
    ):
        raise UserError(f"{where}.image_size must be [height, width] in pixels, or null to require one size")
    fraction, seed = spec.get("test_fraction", 0.5), spec.get("split_seed", 0)
    if not isinstance(fraction, float) or not 0 < fraction < 1 or not isinstance(seed, int):
        raise UserError(f"{where}: test_fraction must be between 0 and 1 and split_seed an integer")


def describe(name: str, spec: dict[str, Any], class_names: list[str] | None = None) -> dict[str, Any]:
    """The dataset's description for the provenance record: ``about`` from params.yaml, completed with defaults
    (the name as title, the class names read from the data or numbered)."""
    about = dict(spec.get("about") or {})
    described = {
        "title": about.get("title", name),
        "modality": about.get("modality", "Images"),
        "description": about.get("description", f"images of the folder {SOURCE_DIR}/{name}"),
        "class_names": about.get("class_names", class_names),
        "citation": about.get("citation"),
        "licence": about.get("licence", "not stated"),
        "official_counts": about.get("official_counts"),
    }
    if about.get("ordinal", False):  # classes that are ordered grades: the aggregate adds their kappa
        described["ordinal"] = True
    return described


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


def locate_medmnist(name: str, spec: dict[str, Any], mirror_dirs: Sequence[str], root: Path) -> tuple[Path, str]:
    """Find (or download into the project's ``data/downloads``) the MedMNIST file and tell which known
    copy it is: 'official' or 'mirror'."""
    known = {md5: variant for variant, md5 in spec["source_md5"].items()}
    folders = [*(_expand(folder, user_root(root)) for folder in mirror_dirs), root / DOWNLOADS]
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


def canonical_medmnist(path: Path, n_classes: int | None) -> dict[str, np.ndarray]:
    """Load a file in MedMNIST's layout (pickle refused) into the canonical arrays, checking keys, shapes and labels
    (class indices below ``n_classes`` when it is known)."""
    raw = load_npz(path)  # names the file when it is unreadable or needs pickle
    missing = [key for key in MEDMNIST_KEYS if key not in raw]
    if missing:
        raise UserError(f"{path}: missing arrays {', '.join(missing)}; this is not a MedMNIST file")
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "val", "test"):
        images, labels = raw[f"{split}_images"], raw[f"{split}_labels"]
        if images.dtype != np.uint8 or not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
            raise UserError(
                f"{path}: {split}_images must be uint8 of shape (n, h, w) or (n, h, w, 3), got {images.dtype} "
                f"{images.shape}"
            )
        if labels.ndim == 2 and labels.shape[1] > 1:
            raise UserError(
                f"{path}: {labels.shape[1]} labels per image (multi-label); the study needs one class per image"
            )
        if labels.dtype.kind not in "iu":
            raise UserError(
                f"{path}: {split}_labels must hold integer class indices, got {labels.dtype}; "
                "the file is corrupted or not a MedMNIST file"
            )
        labels = labels.reshape(-1).astype(np.int64)
        if len(labels) != len(images):
            raise UserError(f"{path}: {split} has {len(images)} images but {len(labels)} labels")
        limit = n_classes if n_classes is not None else np.iinfo(np.int64).max
        if len(labels) and (labels.min() < 0 or labels.max() >= limit):  # an empty split: check_canonical
            raise UserError(f"{path}: {split}_labels outside 0..{limit - 1}; the file is corrupted")
        arrays[f"X_{split}"] = images
        arrays[f"y_{split}"] = labels
    return arrays


def check_canonical(arrays: dict[str, np.ndarray], where: str) -> None:
    """Reject data no study can run on: an empty split, samples of different shapes in different
    splits, a training split (the pool) of a single class or missing a class (every split's classes must be
    0 .. k - 1, each in the pool, which every stage counts the classes from), non-finite features."""
    splits = [key[2:] for key in arrays if key.startswith("X_")]
    for split in splits:
        if len(arrays[f"y_{split}"]) == 0:
            raise UserError(f"{where}: the {split} split is empty; every split needs samples")
    shapes = {split: arrays[f"X_{split}"].shape[1:] for split in splits}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{split} {shape}" for split, shape in shapes.items())
        raise UserError(f"{where}: samples differ in shape between splits ({listed}); resize them to one shape")
    pool_classes = np.unique(arrays["y_train"])
    if len(pool_classes) < 2:
        raise UserError(
            f"{where}: the training split (the pool) holds a single class; active learning needs two or more"
        )
    classes = np.unique(np.concatenate([arrays[f"y_{split}"] for split in splits]))
    missing = np.setdiff1d(np.arange(classes.max() + 1), pool_classes)
    if len(missing):
        listed = f"classes {', '.join(str(c) for c in missing)} have" if len(missing) > 1 else f"class {missing[0]} has"
        raise UserError(
            f"{where}: {listed} no sample in the training split (the pool), so no model can learn them; add samples "
            "to the pool or remove the class from every split"
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


def locate_npz(name: str, spec: dict[str, Any], root: Path) -> Path:
    """The file of an ``npz`` source, checked against its pinned md5 (null: print the value to pin)."""
    path = _expand(spec["path"], user_root(root))
    if not path.is_file():
        raise UserError(f"{path}: not found; fix datasets.{name}.path in params.yaml")
    got = md5_file(path)
    if spec.get("md5") is None:
        print(f"{name}: {path} has md5 {got}; pin it as datasets.{name}.md5 in params.yaml", file=sys.stderr)
    elif got != spec["md5"]:
        raise UserError(f"{path}: md5 {got} does not match datasets.{name}.md5 {spec['md5']}; check the file")
    return path


def _load_source(name: str, spec: dict[str, Any], mirror_dirs: Sequence[str], root: Path) -> tuple:
    """The canonical arrays of one dataset from its source, the class names (None: from ``about``), which copy
    they came from (variant), the source's md5 (or folder digest) and URL, and what to name in a data error."""
    n_classes = len((spec.get("about") or {}).get("class_names") or []) or None
    source = spec["source"]
    if source == "medmnist":
        path, variant = locate_medmnist(name, spec, mirror_dirs, root)
        arrays = canonical_medmnist(path, n_classes)
        return arrays, None, variant, spec["source_md5"][variant], spec["url"], str(path)
    if source == "npz":
        path = locate_npz(name, spec, root)
        return canonical_medmnist(path, n_classes), None, "file", md5_file(path), None, str(path)
    if source == "image_folder":
        folder = root / SOURCE_DIR / name
        arrays, names, digest = read_folder(folder, spec)
        listed = (spec.get("about") or {}).get("class_names")
        if listed is not None and list(listed) != names:
            raise UserError(
                f"params.yaml: datasets.{name}.about.class_names {list(listed)} do not match the class folders "
                f"{names} (labels follow the folder names, sorted); list them in that order or remove class_names"
            )
        return arrays, names, "folder", digest, None, str(folder)
    if source == "sklearn_breast_cancer":
        return canonical_wdbc(spec), None, "bundled", None, None, name
    raise UserError(f"params.yaml: datasets.{name}.source '{source}' unknown; valid: {', '.join(SOURCES)}")


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


def fetch(
    name: str, spec: dict[str, Any], mirror_dirs: Sequence[str], out_dir: Path, root: Path = Path(".")
) -> dict[str, Any]:
    """Produce ``out_dir/<name>.npz`` and ``out_dir/<name>.json`` for one dataset from its entry ``spec`` of
    ``datasets`` (a MedMNIST file is looked for in ``mirror_dirs`` first); return the provenance."""
    arrays, class_names, variant, source_md5, url, where = _load_source(name, spec, mirror_dirs, root)
    check_canonical(arrays, where)
    about = describe(name, spec, class_names)
    n_classes = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
    if about["class_names"] is None:
        about["class_names"] = [str(index) for index in range(n_classes)]
    payload = npz_bytes(arrays)
    canonical_md5 = hashlib.md5(payload).hexdigest()
    _check_pin(name, variant, canonical_md5, (spec.get("canonical_md5") or {}).get(variant))
    provenance = {
        "name": name,
        **about,
        "variant": variant,
        "copy_note": (spec.get("copy_notes") or {}).get(variant),
        "source_md5": source_md5,
        "canonical_md5": canonical_md5,
        "url": url,
        "counts": {
            split: np.bincount(arrays[f"y_{split}"], minlength=len(about["class_names"])).tolist()
            for split in ("train", "val", "test")
            if f"y_{split}" in arrays
        },
        "shape": list(arrays["X_train"].shape[1:]),
    }
    write_bytes_atomic(out_dir / f"{name}.npz", payload)
    write_json_atomic(out_dir / f"{name}.json", provenance)
    return provenance
