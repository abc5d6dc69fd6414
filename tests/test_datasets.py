import hashlib

import numpy as np
import pytest

from medal.data.sources import canonical_medmnist, canonical_wdbc, download, fetch, locate_medmnist
from medal.errors import UserError
from medal.fileio import md5_file, npz_bytes, read_json

from conftest import MIRROR, medmnist_arrays


def _write_npz(path, arrays):
    np.savez(path, **arrays)
    return hashlib.md5(path.read_bytes()).hexdigest()


def _spec(md5_official="0" * 32, md5_mirror="1" * 32):
    return {
        "source": "medmnist",
        "file": "breastmnist.npz",
        "url": "https://example.invalid/breastmnist.npz",
        "source_md5": {"official": md5_official, "mirror": md5_mirror},
        "canonical_md5": {"official": None, "mirror": None},
    }


def test_official_layout_and_flat_labels_give_the_same_canonical_bytes(tmp_path):
    """The mirror stores labels as (n,), the official file as (n, 1): the canonical file must not care."""
    _write_npz(tmp_path / "flat.npz", medmnist_arrays(flat_labels=True))
    _write_npz(tmp_path / "column.npz", medmnist_arrays(flat_labels=False))
    flat = canonical_medmnist(tmp_path / "flat.npz", 2)
    column = canonical_medmnist(tmp_path / "column.npz", 2)
    assert npz_bytes(flat) == npz_bytes(column)
    assert flat["y_train"].shape == (30,) and flat["y_train"].dtype == np.int64


def test_locate_identifies_the_copy_by_md5(tmp_path):
    md5 = _write_npz(tmp_path / "breastmnist.npz", medmnist_arrays())
    path, variant = locate_medmnist("breastmnist", _spec(md5_mirror=md5), ["missing-dir", str(tmp_path)], tmp_path)
    assert (path, variant) == (tmp_path / "breastmnist.npz", "mirror")


def test_checksum_mismatch_names_file_expected_and_got(tmp_path):
    md5 = _write_npz(tmp_path / "breastmnist.npz", medmnist_arrays())
    with pytest.raises(UserError) as info:
        locate_medmnist("breastmnist", _spec(), [str(tmp_path)], tmp_path)
    message = str(info.value)
    assert str(tmp_path / "breastmnist.npz") in message
    assert f"md5 {md5} does not match the pin {'0' * 32} (official) or {'1' * 32} (mirror)" in message
    assert "replace it with the official one from https://example.invalid/breastmnist.npz" in message


def test_download_refuses_plain_http(tmp_path):
    with pytest.raises(UserError, match="refusing to download from a non-HTTPS URL"):
        download("http://example.invalid/x.npz", tmp_path / "x.npz", "0" * 32)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda a: a.update(train_labels=np.full(30, 7, dtype=np.uint8)), "train_labels outside 0..1"),
        (lambda a: a.pop("test_images"), "missing arrays test_images"),
        (lambda a: a.update(val_labels=np.zeros(5, dtype=np.uint8)), "val has 6 images but 5 labels"),
        (
            lambda a: a.update(train_images=np.zeros((30, 784), dtype=np.uint8)),
            "train_images must be uint8 of shape (n, h, w)",
        ),
    ],
)
def test_malformed_medmnist_files_are_refused(tmp_path, corrupt, message):
    arrays = medmnist_arrays()
    corrupt(arrays)
    _write_npz(tmp_path / "f.npz", arrays)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        canonical_medmnist(tmp_path / "f.npz", 2)


def test_truncated_file_is_refused(tmp_path):
    _write_npz(tmp_path / "f.npz", medmnist_arrays())
    data = (tmp_path / "f.npz").read_bytes()
    (tmp_path / "f.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="unreadable .npz"):
        canonical_medmnist(tmp_path / "f.npz", 2)


def test_wdbc_split_is_stratified_and_fixed(params):
    a = canonical_wdbc(params["datasets"]["wdbc"])
    b = canonical_wdbc(params["datasets"]["wdbc"])
    assert npz_bytes(a) == npz_bytes(b)
    assert len(a["y_train"]) + len(a["y_test"]) == 569
    assert abs(a["y_train"].mean() - a["y_test"].mean()) < 0.01


def test_fetch_wdbc_matches_the_pin_and_writes_provenance(params, tmp_path):
    provenance = fetch("wdbc", params["datasets"]["wdbc"], params["data"]["mirror_dirs"], tmp_path)
    assert provenance["canonical_md5"] == params["datasets"]["wdbc"]["canonical_md5"]["bundled"]
    assert read_json(tmp_path / "wdbc.json")["variant"] == "bundled"
    assert hashlib.md5((tmp_path / "wdbc.npz").read_bytes()).hexdigest() == provenance["canonical_md5"]


def test_fetch_stops_on_a_wrong_canonical_pin_and_writes_nothing(params, tmp_path):
    params["datasets"]["wdbc"]["canonical_md5"]["bundled"] = "f" * 32
    with pytest.raises(UserError, match="canonical file md5 .* but params.yaml pins f{32} for the bundled copy"):
        fetch("wdbc", params["datasets"]["wdbc"], params["data"]["mirror_dirs"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not MIRROR.is_dir(), reason="MedMNIST mirror folder not present")
@pytest.mark.parametrize("name", ["breastmnist", "pneumoniamnist"])
def test_mirror_copies_match_their_pins(params, tmp_path, name):
    params["data"]["mirror_dirs"] = [str(MIRROR)]
    provenance = fetch(name, params["datasets"][name], params["data"]["mirror_dirs"], tmp_path)
    assert provenance["variant"] == "mirror"
    assert provenance["canonical_md5"] == params["datasets"][name]["canonical_md5"]["mirror"]


def test_non_finite_features_are_refused():
    from medal.data.sources import check_canonical
    from medal.errors import UserError

    arrays = {
        "X_train": np.array([[0.0, 1.0], [np.inf, 2.0]]),
        "y_train": np.array([0, 1]),
        "X_test": np.array([[0.0, 1.0]]),
        "y_test": np.array([0]),
    }
    with pytest.raises(UserError, match=r"^d: the train split has NaN or infinite features; remove or impute them$"):
        check_canonical(arrays, "d")
    arrays["X_train"][1, 0] = np.nan
    with pytest.raises(UserError, match="NaN or infinite"):
        check_canonical(arrays, "d")
    arrays["X_train"][1, 0] = 3.0
    check_canonical(arrays, "d")


def test_a_class_missing_from_the_pool_is_refused_with_its_index():
    from medal.data.sources import check_canonical
    from medal.errors import UserError

    arrays = {"X_train": np.zeros((4, 2)), "y_train": np.array([0, 1, 0, 1]), "X_test": np.zeros((3, 2))}
    arrays["y_test"] = np.array([0, 1, 2])  # class 2 only in the test split
    with pytest.raises(UserError, match=r"^d: class 2 has no sample in the training split \(the pool\), so no model"):
        check_canonical(arrays, "d")
    arrays["y_train"] = np.array([0, 3, 0, 3])  # classes 1 and 2 missing from the pool, 3 present
    arrays["y_test"] = np.array([0, 3, 3])
    with pytest.raises(UserError, match=r"^d: classes 1, 2 have no sample in the training split"):
        check_canonical(arrays, "d")
    arrays["y_train"] = np.array([0, 1, 2, 1])
    arrays["y_test"] = np.array([0, 1, 1])  # a class absent from the test split is allowed
    check_canonical(arrays, "d")


def _npz_dataset(tmp_path, params, arrays, md5=None):
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    params["datasets"]["mine"] = {"source": "npz", "path": str(path), "md5": md5, "about": {"title": "Mine"}}
    return path


def test_an_npz_source_is_pinned_by_md5_and_takes_colour_images(params, tmp_path, capsys):
    arrays = medmnist_arrays()
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = np.repeat(arrays[f"{split}_images"][..., None], 3, axis=-1)
    path = _npz_dataset(tmp_path, params, arrays)
    provenance = fetch(
        "mine", params["datasets"]["mine"], params["data"]["mirror_dirs"], tmp_path / "raw", root=tmp_path
    )
    assert f"has md5 {md5_file(path)}; pin it as datasets.mine.md5" in capsys.readouterr().err
    assert provenance["shape"] == [28, 28, 3] and provenance["class_names"] == ["0", "1"]
    params["datasets"]["mine"]["md5"] = "0" * 32
    with pytest.raises(UserError, match=r"mine.npz: md5 \w+ does not match datasets.mine.md5 0{32}; check the file"):
        fetch("mine", params["datasets"]["mine"], params["data"]["mirror_dirs"], tmp_path / "raw", root=tmp_path)


def test_a_multi_label_file_is_refused_at_fetch_and_chestmnist_in_the_study_at_once(params, tmp_path):
    arrays = medmnist_arrays()
    arrays["train_labels"] = np.zeros((30, 14), dtype=np.uint8)
    _npz_dataset(tmp_path, params, arrays)
    with pytest.raises(UserError, match=r"14 labels per image \(multi-label\); the study needs one class per image"):
        fetch("mine", params["datasets"]["mine"], params["data"]["mirror_dirs"], tmp_path / "raw", root=tmp_path)
    from medal.config import validate

    params["study"]["datasets"] = ["chestmnist"]
    params["prepare"]["chestmnist"] = {"features": "raw"}
    with pytest.raises(UserError, match=r"datasets.chestmnist is multi-label .* remove chestmnist from study.datasets"):
        validate(params)


def test_every_2d_medmnist_dataset_is_declared_with_its_official_file(params):
    declared = {name for name, spec in params["datasets"].items() if spec["source"] == "medmnist"}
    assert len(declared) == 12
    for name in declared:
        spec = params["datasets"][name]
        assert spec["url"] == f"https://zenodo.org/records/10519652/files/{name}.npz?download=1"
        assert len(spec["source_md5"]["official"]) == 32 and name in params["prepare"]
    assert params["datasets"]["dermamnist"]["source_md5"]["official"] == "0744692d530f8e62ec473284d019b0c7"
