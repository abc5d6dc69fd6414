"""The reproduction check: which outputs may differ between rebuilds, and the data pins."""

from __future__ import annotations

import pytest
import yaml

from medal.errors import UserError
from medal.fileio import md5_file, write_json_atomic
from medal.verify import check_data, compare, is_measured, locked_outputs, report


def _lock(path, outs: dict[str, str]) -> None:
    stages = {
        f"s{i}": {"cmd": "x", "outs": [{"path": p, "hash": "md5", "md5": m}]} for i, (p, m) in enumerate(outs.items())
    }
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
        ["data/runs/a"],
        ["data/timings/a"],
        ["paper/generated"],
        ["data/aggregate/x.csv"],
    )
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
    assert problems == [f"{raw}/wdbc.npz: md5 {got}, but params.yaml datasets.wdbc.canonical_md5.bundled pins {pinned}"]
    assert check_data(params, {}, tmp_path / "empty") == [
        f"{tmp_path}/empty/wdbc.npz: missing after the rebuild; run dvc repro and read its errors"
    ]


def _platform(kernel: str) -> dict:
    return {"architecture": "x86_64", "blas": [f"openblas 0.3.30 {kernel}"], "versions": {"numpy": "2.4.6"}}


def test_same_platform_only_when_the_record_is_this_machine_or_absent():
    from medal.verify import same_platform

    assert same_platform({"platforms": [_platform("Haswell")]}, _platform("Haswell"))
    assert not same_platform({"platforms": [_platform("Haswell")]}, _platform("SkylakeX"))
    assert not same_platform({"platforms": [_platform("Haswell"), _platform("SkylakeX")]}, _platform("Haswell"))
    assert same_platform(None, _platform("SkylakeX"))


CONCLUSIONS = {
    "numbers": {"aulc/d/lr/entropy": [0.70, 0.68, 0.72]},
    "decisions": {"holm/d/lr/entropy": "above random"},
    "signs": {"saving/95/d/lr/entropy": "+"},
}


@pytest.fixture
def built(tmp_path, monkeypatch, params):
    """A built project: dvc.lock, data/platform.json recording Haswell, the committed conclusions."""
    import medal.verify as verify_module

    params["study"]["datasets"] = []
    monkeypatch.chdir(tmp_path)
    _lock(tmp_path / "dvc.lock", {"data/aggregate/summary.csv": "1", "data/timings/x": "2"})
    write_json_atomic(tmp_path / "platform.json", {"platforms": [_platform("Haswell")]})
    write_json_atomic(tmp_path / "conclusions.json", CONCLUSIONS)
    return verify_module, params, tmp_path


def _fake_rebuild(root, kernel: str, summary_md5: str, conclusions: dict):
    def rebuild(targets):
        _lock(root / "dvc.lock", {"data/aggregate/summary.csv": summary_md5, "data/timings/x": "9"})
        write_json_atomic(root / "platform.json", {"platforms": [_platform(kernel)]})
        write_json_atomic(root / "conclusions.json", conclusions)

    return rebuild


def _verify(verify_module, params, root):
    return verify_module.verify(
        params, root / "dvc.lock", root / "raw", [], root / "platform.json", root / "conclusions.json"
    )


def test_verify_is_bitwise_on_the_committed_platform(built, monkeypatch, capsys):
    verify_module, params, root = built
    monkeypatch.setattr(verify_module, "numerical_platform", lambda: _platform("Haswell"))
    monkeypatch.setattr(verify_module, "rebuild", _fake_rebuild(root, "Haswell", "1", CONCLUSIONS))
    assert _verify(verify_module, params, root)
    monkeypatch.setattr(verify_module, "rebuild", _fake_rebuild(root, "Haswell", "changed", CONCLUSIONS))
    assert not _verify(verify_module, params, root)
    out = capsys.readouterr().out
    assert "as in the committed build: results must be byte-identical" in out
    assert "DIFFER: data/aggregate/summary.csv" in out and out.rstrip().endswith("NOT reproduced")


def test_verify_compares_conclusions_on_another_platform(built, monkeypatch, capsys):
    verify_module, params, root = built
    monkeypatch.setattr(verify_module, "numerical_platform", lambda: _platform("SkylakeX"))
    moved = {**CONCLUSIONS, "numbers": {"aulc/d/lr/entropy": [0.705, 0.69, 0.72]}}
    monkeypatch.setattr(verify_module, "rebuild", _fake_rebuild(root, "SkylakeX", "other bits", moved))
    assert _verify(verify_module, params, root)
    out = capsys.readouterr().out
    assert "this rebuild on x86_64, openblas 0.3.30 SkylakeX: results cannot be byte-identical" in out
    assert "1 result outputs differ in their bits, as expected on another platform" in out
    assert "1 numbers moved within their committed CI" in out and out.rstrip().endswith("conclusions reproduced")
    # A rebuild whose significance decision flipped is not a reproduction.
    write_json_atomic(root / "platform.json", {"platforms": [_platform("Haswell")]})
    write_json_atomic(root / "conclusions.json", CONCLUSIONS)
    flipped = {**CONCLUSIONS, "decisions": {"holm/d/lr/entropy": "not significant"}}
    monkeypatch.setattr(verify_module, "rebuild", _fake_rebuild(root, "SkylakeX", "other bits", flipped))
    assert not _verify(verify_module, params, root)
    out = capsys.readouterr().out
    assert "CHANGED: holm/d/lr/entropy: not significant (committed: above random)" in out
    assert out.rstrip().endswith("conclusions NOT reproduced")


def test_verify_on_another_platform_needs_the_committed_conclusions(built, monkeypatch):
    verify_module, params, root = built
    (root / "conclusions.json").unlink()
    monkeypatch.setattr(verify_module, "numerical_platform", lambda: _platform("SkylakeX"))
    monkeypatch.setattr(verify_module, "rebuild", lambda targets: pytest.fail("must not rebuild"))
    with pytest.raises(
        UserError, match=r"conclusions.json: not found, so the conclusions of the committed build are unknown"
    ):
        _verify(verify_module, params, root)
