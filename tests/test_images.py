"""Labelled image folders: reading, splitting, the content digest, and a one-line error for each broken input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medal.data.images import folder_digest, read_folder, read_image, write_folder
from medal.data.sources import fetch
from medal.errors import UserError

SPEC = {"source": "image_folder", "test_fraction": 0.25, "split_seed": 0}


def make_folder(root: Path, classes=("cyst", "normal", "tumour"), per_class: int = 8, size=(12, 10)) -> Path:
    """A generated class-per-folder image set: class ``k``'s images are brighter with ``k`` (height, width ``size``)."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(60 + 70 * k, 20, size=size), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    return root


def test_a_folder_becomes_a_stratified_split_with_sorted_class_names(tmp_path):
    arrays, names, digest = read_folder(make_folder(tmp_path / "scans"), SPEC)
    assert digest == folder_digest(tmp_path / "scans")
    assert names == ["cyst", "normal", "tumour"]
    assert arrays["X_train"].shape == (18, 12, 10) and arrays["X_test"].shape == (6, 12, 10)
    assert arrays["X_train"].dtype == np.uint8
    assert np.bincount(arrays["y_test"]).tolist() == [2, 2, 2]
    # Class k was drawn around 60 + 70 k: the labels follow the folders.
    means = [arrays["X_train"][arrays["y_train"] == k].mean() for k in range(3)]
    assert means == sorted(means)
    again, _, _ = read_folder(tmp_path / "scans", SPEC)
    assert all(np.array_equal(arrays[key], again[key]) for key in arrays)


def test_train_and_test_sub_folders_are_the_splits(tmp_path):
    make_folder(tmp_path / "scans" / "train", per_class=5)
    make_folder(tmp_path / "scans" / "test", per_class=2)
    arrays, names, _ = read_folder(tmp_path / "scans", {"source": "image_folder"})
    assert (len(arrays["y_train"]), len(arrays["y_test"]), names[0]) == (15, 6, "cyst")


def test_colour_and_size_settings(tmp_path):
    root = make_folder(tmp_path / "scans")
    arrays, _, _ = read_folder(root, {**SPEC, "colour": "rgb", "image_size": [28, 20]})
    assert arrays["X_train"].shape[1:] == (28, 20, 3)
    assert read_image(root / "cyst" / "000.png", "grey", (6, 5)).shape == (6, 5)


def test_the_digest_follows_every_change_to_the_images_and_ignores_other_files(tmp_path):
    root = make_folder(tmp_path / "scans")
    base = folder_digest(root)
    (root / "notes.txt").write_text("ignored")
    assert folder_digest(root) == base
    image = root / "cyst" / "000.png"
    original = image.read_bytes()
    Image.fromarray(np.zeros((12, 10), dtype=np.uint8)).save(image)
    changed = folder_digest(root)
    image.write_bytes(original)
    (root / "cyst" / "000.png").rename(root / "cyst" / "100.png")
    renamed = folder_digest(root)
    (root / "cyst" / "100.png").unlink()
    removed = folder_digest(root)
    assert len({base, changed, renamed, removed}) == 4


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda r: (r / "cyst" / "003.png").write_bytes(b"not a png"), r"cyst/003.png: not a readable image \("),
        (lambda r: (r / "empty").mkdir(), r"scans/empty: a class folder without images"),
        (
            lambda r: Image.fromarray(np.zeros((9, 9), dtype=np.uint8)).save(r / "normal" / "005.png"),
            r"normal/005.png: 9x9 pixels but 000.png has 10x12; set image_size",
        ),
        (lambda r: [p.unlink() for p in (r / "tumour").iterdir()], r"scans/tumour: a class folder without images"),
    ],
)
def test_each_broken_input_is_a_one_line_error_naming_the_file(tmp_path, breakage, message):
    root = make_folder(tmp_path / "scans")
    breakage(root)
    with pytest.raises(UserError, match=message) as error:
        read_folder(root, SPEC)
    assert "\n" not in str(error.value)


def test_a_single_class_or_a_missing_split_setting_is_refused(tmp_path):
    root = make_folder(tmp_path / "scans", classes=("only",))
    with pytest.raises(UserError, match=r"needs two or more class sub-folders with images, found only"):
        read_folder(root, SPEC)
    with pytest.raises(UserError, match=r"test_fraction and split_seed in params.yaml say how to split it"):
        read_folder(make_folder(tmp_path / "two", classes=("a", "b")), {"source": "image_folder"})


def test_dicom_images_are_read_through_pydicom(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = (np.arange(12 * 10, dtype=np.uint16).reshape(12, 10) * 300).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(tmp_path / "scan.dcm", enforce_file_format=True)
    image = read_image(tmp_path / "scan.dcm", "grey", None)
    assert image.shape == (12, 10) and image.min() == 0 and image.max() == 255
    assert np.all(np.diff(image.reshape(-1).astype(int)) >= 0)  # scaled, order kept


def test_fetch_pins_an_image_folder_and_describes_it_from_the_folder(tmp_path, params):
    make_folder(tmp_path / "data" / "sources" / "scans")
    params["datasets"]["scans"] = dict(SPEC)
    provenance = fetch(
        "scans", params["datasets"]["scans"], params["data"]["mirror_dirs"], tmp_path / "raw", root=tmp_path
    )
    assert provenance["class_names"] == ["cyst", "normal", "tumour"] and provenance["variant"] == "folder"
    assert provenance["source_md5"] == folder_digest(tmp_path / "data" / "sources" / "scans")
    assert provenance["counts"]["train"] == [6, 6, 6] and provenance["title"] == "scans"


def test_export_writes_a_folder_the_source_reads_back_identically(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {
        "X_train": rng.integers(0, 256, (6, 8, 8), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 0, 1, 2]),
        "X_test": rng.integers(0, 256, (3, 8, 8), dtype=np.uint8),
        "y_test": np.array([2, 1, 0]),
    }
    assert write_folder(arrays, ["a", "b/c", "d"], tmp_path / "out") == 9
    back, names, _ = read_folder(tmp_path / "out", {"source": "image_folder"})
    assert names == ["a", "b-c", "d"]
    for split in ("train", "test"):
        order = np.lexsort((np.arange(len(arrays[f"y_{split}"])), arrays[f"y_{split}"]))  # read back class by class
        assert np.array_equal(back[f"X_{split}"], arrays[f"X_{split}"][order])
        assert np.array_equal(back[f"y_{split}"], arrays[f"y_{split}"][order])
    with pytest.raises(UserError, match="already exists"):
        write_folder(arrays, ["a", "b", "d"], tmp_path / "out")
    write_folder(arrays, ["zebra", "ant", "moth"], tmp_path / "unsorted")
    assert read_folder(tmp_path / "unsorted", {"source": "image_folder"})[1] == ["00-zebra", "01-ant", "02-moth"]


# --- layouts, bit depth and class names, through the command line -------------------------------------------


@pytest.fixture
def folder_project(tmp_path, monkeypatch, params):
    """A scratch project whose study reads the image folder data/sources/scans."""
    import yaml

    monkeypatch.chdir(tmp_path)
    params["datasets"]["scans"] = dict(SPEC)
    params["prepare"]["scans"] = {"features": "raw"}
    params["study"]["datasets"] = ["scans"]
    params["sweeps"]["datasets"] = []
    params["select"]["datasets"] = []
    params["cap_check"]["dataset"] = "scans"
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path / "data" / "sources" / "scans"


def _fetch_fails(capsys, message: str) -> None:
    from medal.cli import main

    capsys.readouterr()
    assert main(["fetch", "scans"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and message in err, err
    assert not Path("data/raw/scans.npz").exists()


@pytest.mark.parametrize(
    "layout, message",
    [
        # Class folders under train/ and val/: read as before, they became two classes named after the splits.
        (("train/cyst", "train/normal", "val/cyst", "val/normal"), "found train/, val/; with split folders"),
        (("Train/cyst", "Train/normal", "Test/cyst", "Test/normal"), "found Test/, Train/; with split folders"),
        (("train/cyst", "train/normal", "test/cyst", "test/normal", "val/cyst"), "found test/, train/, val/"),
        (("training/a", "training/b", "testing/a", "testing/b"), "found testing/, training/"),
    ],
)
def test_split_folders_other_than_train_and_test_are_refused(folder_project, capsys, layout, message):
    for folder in layout:
        make_folder(folder_project / folder, classes=("x",), per_class=2)
    _fetch_fails(capsys, message)


def test_images_in_nested_patient_folders_or_beside_the_classes_are_refused(folder_project, capsys):
    make_folder(folder_project / "cyst" / "patient-01", classes=("series-1",), per_class=3)
    make_folder(folder_project, classes=("normal",), per_class=3)
    _fetch_fails(capsys, "images in a folder inside the class folder cyst (patient or series folders?)")
    for path in (folder_project / "cyst").rglob("*.png"):
        path.rename(folder_project / "cyst" / path.name)  # flattened: each class's images directly in its folder
    for folder in sorted((folder_project / "cyst").rglob("*"), reverse=True):
        if folder.is_dir():
            folder.rmdir()
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(folder_project / "loose.png")
    _fetch_fails(capsys, "loose.png: an image outside any class folder")


def test_sixteen_bit_images_are_scaled_not_clipped(folder_project, capsys):
    from medal.cli import main
    from medal.fileio import load_npz

    rng = np.random.default_rng(0)
    for name in ("cyst", "normal"):
        (folder_project / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(1000, 60000, size=(12, 10)).astype(np.uint16)  # most values above 255
            Image.fromarray(pixels).save(folder_project / name / f"{i}.png")
    assert Image.open(folder_project / "cyst" / "0.png").mode.startswith("I")
    assert main(["fetch", "scans"]) == 0
    images = load_npz(Path("data/raw/scans.npz"))["X_train"]
    # Clipped to 8 bits every pixel would be 255 (white); scaled from each image's range they span 0..255.
    assert images.min() == 0 and images.max() == 255 and (images == 255).mean() < 0.05


def test_class_names_that_do_not_match_the_folders_are_refused(folder_project, capsys):
    import yaml

    make_folder(folder_project)
    params = yaml.safe_load(Path("params.yaml").read_text())
    for listed in (["normal", "cyst", "tumour"], ["cyst", "normal"]):  # another order; a folder without a name
        params["datasets"]["scans"]["about"] = {"class_names": listed}
        Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        _fetch_fails(capsys, f"about.class_names {listed} do not match the class folders ['cyst', 'normal', 'tumour']")
