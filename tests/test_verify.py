"""The reproduction check: which outputs may differ between rebuilds, and the data pins."""

from __future__ import annotations

import pytest
import yaml

from medal.errors import UserError
from medal.fileio import md5_file, write_json_atomic
from medal.verify import check_data, compare, is_measured, locked_outputs, report


def _lock(path, outs: dict[str, str]) -> None:
    stages = {f"s{i}": {"cmd": "x", "outs": [{"path": p, "hash": "md5", "md5": m}]} for i, (p, m) in enumerate(outs.items())}
    path.write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


def test_locked_outputs_reads_every_output_of_every_stage(tmp_path):
    _lock(tmp_path / "dvc.lock", {"data/runs/a": "1.dir", "paper/_output/paper.pdf": "2"})
    assert locked_outputs(tmp_path / "dvc.lock") == {"data/runs/a": "1.dir", "paper/_output/paper.pdf": "2"}
    with pytest.raises(UserError, match=r"nope/dvc.lock: not found; run from the project root"):
        locked_outputs(tmp_path / "nope" / "dvc.lock")


def test_only_wall_clock_outputs_may_differ():
    assert is_measured("data/timings/wdbc/random") and is_measured("paper/measured")
    assert is_measured("paper/_output/paper.pdf")
    assert not is_measured("data/runs/wdbc/random") and not is_measured("paper/generated")
    before = {"data/runs/a": "1", "data/timings/a": "2", "paper/generated": "3", "data/aggregate/x.csv": "4"}
    after = {"data/runs/a": "1", "data/timings/a": "9", "paper/generated": "8"}
    result = compare(before, after)
    assert (result.identical, result.measured, result.differing, result.missing) == (
        ["data/runs/a"], ["data/timings/a"], ["paper/generated"], ["data/aggregate/x.csv"])
    assert not result.reproduced
    text = report(result)
    assert "DIFFER: paper/generated" in text and "MISSING after the rebuild: data/aggregate/x.csv" in text
    assert text.endswith("NOT reproduced")
    assert compare(before, {**before, "data/timings/a": "7"}).reproduced


def test_check_data_names_the_file_the_pin_and_both_checksums(params, tmp_path):
    params["study"]["datasets"] = ["wdbc"]
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "wdbc.npz").write_bytes(b"not the pinned data")
    write_json_atomic(raw / "wdbc.json", {"variant": "bundled"})
    got = md5_file(raw / "wdbc.npz")
    pinned = params["datasets"]["wdbc"]["canonical_md5"]["bundled"]
    problems = check_data(params, {"raw/wdbc.npz": "abc"}, raw)
    assert problems == [
        f"{raw}/wdbc.npz: md5 {got}, but params.yaml datasets.wdbc.canonical_md5.bundled pins {pinned}"]
    assert check_data(params, {}, tmp_path / "empty") == [
        f"{tmp_path}/empty/wdbc.npz: missing after the rebuild; run dvc repro and read its errors"]
