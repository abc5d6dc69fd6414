import hashlib
import os

import numpy as np
import pytest

from medal.errors import UserError
from medal.fileio import load_npz, md5_file, npz_bytes, read_json, write_json_atomic, write_npz_atomic


def test_npz_bytes_depend_only_on_the_arrays():
    a = {"x": np.arange(5), "y": np.ones((2, 3))}
    b = {"y": np.ones((2, 3)), "x": np.arange(5)}
    assert npz_bytes(a) == npz_bytes(b)
    assert npz_bytes(a) != npz_bytes({"x": np.arange(6), "y": np.ones((2, 3))})


def test_npz_round_trip_and_md5(tmp_path):
    path = tmp_path / "sub" / "a.npz"
    write_npz_atomic(path, {"x": np.arange(3)})
    assert np.array_equal(load_npz(path)["x"], np.arange(3))
    assert md5_file(path) == hashlib.md5(path.read_bytes()).hexdigest()


def test_load_npz_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(UserError, match="evil.npz: holds pickled Python objects, which are refused for safety"):
        load_npz(path)


def test_atomic_write_leaves_no_temp_files_and_normal_permissions(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"b": 1, "a": [1.5]})
    assert read_json(path) == {"a": [1.5], "b": 1}
    assert path.read_text().startswith('{\n "a"')  # sorted keys: canonical bytes
    assert os.listdir(tmp_path) == ["r.json"]
    assert path.stat().st_mode & 0o044 == 0o044  # readable by group and others, unlike mkstemp's 0600
