"""Labelled image folders as a dataset: ``<root>/<class>/<image>`` (or ``<root>/train/<class>/…`` and
``<root>/test/<class>/…``), read with Pillow (PNG, JPEG, TIFF) or pydicom (DICOM), converted to grey or
RGB and brought to one size; the folder's content is summarised by a digest of its image files.

Any other layout (split folders spelt otherwise, a validation split, images in nested patient folders or loose
beside the class folders) stops with one line that says what was found and what is expected: read another way
it would silently become other classes. Images of more than 8 bits (16-bit PNG or TIFF, DICOM) are scaled from
their own minimum to maximum to 0..255, never clipped."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from medal.errors import UserError
from medal.fileio import md5_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm")
COLOURS = ("grey", "rgb")
SPLITS = ("train", "test")
# Folder names that say "a split", whatever their case: only train/ and test/ are read.
SPLIT_NAMES = {"train", "training", "test", "testing", "val", "valid", "validation", "dev", "holdout"}
# Pillow modes of one channel with more than 8 bits, scaled to 8 bits from each image's own range.
WIDE_GREY_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
LAYOUT = "expected <folder>/<class>/<image> or <folder>/train/<class>/<image> with <folder>/test/<class>/<image>"


def image_files(folder: Path) -> list[Path]:
    """The image files below ``folder`` (any depth), sorted by path; other files are ignored."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def folder_digest(root: Path, known: dict[Path, str] | None = None) -> str:
    """md5 of every image file's path relative to ``root`` and md5, in sorted order: a changed, added, removed or
    renamed image changes it. ``known`` holds md5s already computed (by :func:`read_folder`), not read again."""
    known = known or {}
    digest = hashlib.md5()
    for path in image_files(root):
        md5 = known.get(path) or md5_file(path)
        digest.update(f"{path.relative_to(root).as_posix()}\0{md5}\n".encode())
    return digest.hexdigest()


def _to_8_bits(pixels: np.ndarray) -> np.ndarray:
    """Pixels of any depth scaled to 0..255 from the image's own minimum to maximum, as 8-bit grey."""
    pixels = pixels.astype(np.float64)
    low, high = pixels.min(), pixels.max()
    scaled = (pixels - low) / (high - low) * 255 if high > low else np.zeros_like(pixels)
    return np.round(scaled).astype(np.uint8)


def _dicom_pixels(source: Any) -> np.ndarray:
    """A DICOM image's pixels scaled to 0..255 (its own minimum to maximum), as 8-bit grey."""
    import pydicom  # only datasets with DICOM files need it

    return _to_8_bits(pydicom.dcmread(source).pixel_array)


def read_image(path: Path, colour: str, size: tuple[int, int] | None, content: bytes | None = None) -> np.ndarray:
    """One image as uint8 (height, width) for grey or (height, width, 3) for RGB, resized to ``size`` (height, width)
    when given; an unreadable file is a one-line error naming it. ``content``: the file's bytes, when already read."""
    from PIL import Image

    source = io.BytesIO(path.read_bytes() if content is None else content)
    try:
        if path.suffix.lower() == ".dcm":
            image = Image.fromarray(_dicom_pixels(source))
        else:
            with Image.open(source) as opened:
                opened.load()
                image = opened.copy()
            if image.mode in WIDE_GREY_MODES:  # convert() would clip every value above 255 to white
                image = Image.fromarray(_to_8_bits(np.asarray(image)))
        image = image.convert("L" if colour == "grey" else "RGB")
    except Exception as exc:  # Pillow and pydicom raise many types for a broken file
        raise UserError(
            f"{path}: not a readable image ({exc.__class__.__name__}); replace or remove the file"
        ) from None
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def class_folders(split_root: Path) -> dict[str, list[Path]]:
    """Each class sub-folder of ``split_root`` (sorted by name) with its image files; an empty one, images beside
    the class folders or in folders inside a class folder are errors."""
    loose = [p for p in _visible(split_root) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        raise UserError(f"{loose[0]}: an image outside any class folder; {LAYOUT}")
    folders = [p for p in _visible(split_root) if p.is_dir()]
    for folder in folders:
        nested = next((p for p in _visible(folder) if p.is_dir() and image_files(p)), None)
        if nested is not None:
            raise UserError(
                f"{nested}: images in a folder inside the class folder {folder.name} (patient or series folders?); "
                f"put every image of a class directly in its folder ({LAYOUT})"
            )
    classes = {folder.name: image_files(folder) for folder in folders}
    for name, files in classes.items():
        if not files:
            raise UserError(
                f"{split_root / name}: a class folder without images ({', '.join(IMAGE_SUFFIXES)}); add images or "
                "remove the folder"
            )
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        raise UserError(f"{split_root}: needs two or more class sub-folders with images, found {found}")
    return classes


def _read_split(classes: dict[str, list[Path]], names: list[str], colour: str, size: Any, md5s: dict) -> tuple:
    """Images and label indices (into ``names``) of one split, each file read once (its md5 goes into ``md5s``);
    without a ``size`` every image must share one."""
    images, labels, first = [], [], None
    for label, name in enumerate(names):
        for path in classes.get(name, []):
            content = path.read_bytes()
            md5s[path] = hashlib.md5(content).hexdigest()
            image = read_image(path, colour, size, content)
            if first is None:
                first = (path, image.shape)
            elif image.shape != first[1]:
                raise UserError(
                    f"{path}: {image.shape[1]}x{image.shape[0]} pixels but {first[0].name} has "
                    f"{first[1][1]}x{first[1][0]}; set image_size for this dataset in params.yaml to resize them"
                )
            images.append(image)
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def read_folder(root: Path, spec: dict[str, Any]) -> tuple[dict[str, np.ndarray], list[str], str]:
    """The canonical arrays of an image folder, its class names (the sub-folder names, sorted) and its
    :func:`folder_digest`.

    With ``train/`` and ``test/`` sub-folders those are the splits; otherwise a stratified ``test_fraction`` of
    each class (seeded by ``split_seed``) is the test set.
    """
    if not root.is_dir():
        raise UserError(f"{root}: no such folder; put the images there, one sub-folder per class")
    colour, size = spec.get("colour", "grey"), spec.get("image_size")
    size = tuple(size) if size is not None else None
    md5s: dict[Path, str] = {}
    entries = [p for p in _visible(root) if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES]
    found = [p.name + "/" if p.is_dir() else p.name for p in entries]
    splits = {name.rstrip("/") for name in found if name.endswith("/") and name.rstrip("/").lower() in SPLIT_NAMES}
    if splits and sorted(found) != sorted(f"{split}/" for split in SPLITS):
        raise UserError(
            f"{root}: found {', '.join(found)}; with split folders the study reads exactly train/ and test/ (lower "
            "case, nothing beside them: merge a validation split into train/ or move it out)"
        )
    if splits:
        train, test = class_folders(root / "train"), class_folders(root / "test")
        if set(test) - set(train):
            raise UserError(f"{root / 'test'}: classes {sorted(set(test) - set(train))} are not in {root / 'train'}")
        names = sorted(train)
        X_train, y_train = _read_split(train, names, colour, size, md5s)
        X_test, y_test = _read_split(test, names, colour, size, md5s)
        if X_train.shape[1:] != X_test.shape[1:]:
            raise UserError(f"{root}: train and test images differ in size; set image_size to resize them")
    else:
        if "test_fraction" not in spec or "split_seed" not in spec:
            raise UserError(
                f"{root}: without train/ and test/ sub-folders the dataset's test_fraction and split_seed in "
                "params.yaml say how to split it; add them"
            )
        classes = class_folders(root)
        names = sorted(classes)
        few = [name for name in names if len(classes[name]) < 2]
        if few:
            raise UserError(
                f"{root / few[0]}: {len(classes[few[0]])} image; a stratified test split needs two or more per class"
            )
        X, y = _read_split(classes, names, colour, size, md5s)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=spec["test_fraction"], random_state=spec["split_seed"], stratify=y
        )
    arrays = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
    return arrays, names, folder_digest(root, md5s)


def write_folder(arrays: dict[str, np.ndarray], class_names: list[str], folder: Path) -> int:
    """Write a canonical dataset's images as PNG files, ``<folder>/train|test/<class>/<index>.png``, for trying the
    study on an image folder; returns the number written. The folder must not exist yet. Class folders are named
    after the classes, numbered in front when their names would sort in another order than the labels."""
    from PIL import Image

    if folder.exists():
        raise UserError(f"{folder}: already exists; choose a new folder (nothing was written)")
    names = [name.replace("/", "-") for name in class_names]
    if sorted(names) != names:  # the source reads classes in sorted order: keep the label order
        names = [f"{index:02d}-{name}" for index, name in enumerate(names)]
    count = 0
    for split in ("train", "test"):
        for index, (image, label) in enumerate(zip(arrays[f"X_{split}"], arrays[f"y_{split}"])):
            path = folder / split / names[label] / f"{index:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
            count += 1
    return count
