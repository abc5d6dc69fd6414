"""The reproduction check: which outputs may differ between rebuilds, and the data pins."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medal.errors import UserError
from medal.fileio import md5_file, write_json_atomic
from medal.reproduce.verify import check_data, compare, is_measured, locked_stages, report, stage_outputs
from medal.study import Study


def _lock(path, outs: dict[str, str]) -> None:
    stages = {
        f"s{i}": {"cmd": "x", "outs": [{"path": p, "hash": "md5", "md5": m}]} for i, (p, m) in enumerate(outs.items())
    }
    path.write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


def test_locked_stages_give_every_output_of_every_stage_or_of_some(tmp_path):
    _lock(tmp_path / "dvc.lock", {"data/runs/a": "1.dir", "paper/_output/paper.pdf": "2"})
    stages = locked_stages(tmp_path / "dvc.lock")
    assert stage_outputs(stages) == {"data/runs/a": "1.dir", "paper/_output/paper.pdf": "2"}
    assert stage_outputs(stages, ["s1"]) == {"paper/_output/paper.pdf": "2"}
    with pytest.raises(UserError, match=r"nope/dvc.lock: not found; run from the project root"):
        locked_stages(tmp_path / "nope" / "dvc.lock")


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
    problems = check_data(Study.from_params(params), {"raw/wdbc.npz": "abc"}, raw)
    assert problems == [f"{raw}/wdbc.npz: md5 {got}, but params.yaml datasets.wdbc.canonical_md5.bundled pins {pinned}"]
    assert check_data(Study.from_params(params), {}, tmp_path / "empty") == [
        f"{tmp_path}/empty/wdbc.npz: missing after the rebuild; run dvc repro and read its errors"
    ]


def _platform(kernel: str) -> dict:
    return {"architecture": "x86_64", "blas": [f"openblas 0.3.30 {kernel}"], "versions": {"numpy": "2.4.6"}}


def test_same_platform_only_when_the_record_is_this_machine_or_absent():
    from medal.reproduce.verify import same_platform

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
    import medal.reproduce.verify as verify_module

    params["study"]["datasets"] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(verify_module.dvc, "stage_names", lambda: None)  # no dvc.yaml: every locked stage counts
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
        Study.from_params(params),
        root / "dvc.lock",
        root / "raw",
        [],
        root / "platform.json",
        root / "conclusions.json",
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


def test_content_md5_is_the_hash_dvc_records(tmp_path):
    """A file's md5, and for a folder DVC's ``.dir`` hash: the md5 of the JSON listing of its files, sorted by path
    (the value below is what dvc 3 recorded for this very folder)."""
    import hashlib

    from medal.reproduce.verify import content_md5

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("hello\n")
    (tmp_path / "out" / "b.txt").write_text("world\n")
    assert content_md5(tmp_path / "out" / "a.txt") == hashlib.md5(b"hello\n").hexdigest()
    assert content_md5(tmp_path / "out") == "ecf8f6613d6b2a92c412c00f6a32657c.dir"


def test_content_problems_name_missing_and_changed_outputs(tmp_path):
    from medal.reproduce.verify import content_md5, content_problems

    (tmp_path / "kept.txt").write_text("same")
    (tmp_path / "changed.txt").write_text("tampered")
    locked = {"kept.txt": content_md5(tmp_path / "kept.txt"), "changed.txt": "0" * 32, "gone.txt": "1" * 32}
    assert content_problems(locked, tmp_path) == [
        "changed.txt: its content differs from dvc.lock (changed or tampered)",
        "gone.txt: missing; run `dvc pull` first",
    ]


STAGES = [f"al@d-s{i}" for i in range(10)] + ["reference@d", "sweep@d-batch_size-random", "aggregate", "paper"]


def test_a_sample_is_seeded_and_drawn_from_the_experiment_stages_only():
    from medal.reproduce.verify import sample_stages

    chosen = sample_stages(STAGES, 0.25, seed=7)
    assert len(chosen) == 3  # a quarter of 12 experiment stages
    assert chosen == sample_stages(STAGES, 0.25, seed=7) and set(chosen) <= set(STAGES[:12])
    assert {tuple(sample_stages(STAGES, 0.25, seed=s)) for s in range(20)} != {tuple(chosen)}  # the seed matters
    assert len(sample_stages(STAGES, 5, seed=0)) == 5 and len(sample_stages(STAGES, 50, seed=0)) == 12
    with pytest.raises(UserError, match="--sample must be a fraction"):
        sample_stages(STAGES, 0, seed=0)


def test_run_coverage_counts_the_run_files_of_the_chosen_stages():
    from medal.reproduce.verify import run_coverage

    stages = {
        "al@a": [{"path": "data/runs/a", "md5": "1.dir", "nfiles": 20}, {"path": "data/timings/a", "nfiles": 21}],
        "sweep@b": [{"path": "data/sweeps/b", "md5": "2.dir", "nfiles": 30}],
        "aggregate": [{"path": "data/aggregate/summary.csv", "md5": "3"}],
    }
    assert run_coverage(stages, ["al@a"]) == (20, 50)


def test_a_partial_check_refuses_to_rebuild_on_a_tampered_copy_and_compares_only_what_it_rebuilt(
    built, monkeypatch, capsys
):
    from medal.reproduce.verify import content_md5

    verify_module, params, root = built
    (root / "kept.csv").write_text("pulled")
    (root / "summary.csv").write_text("rebuilt")
    _lock(
        root / "dvc.lock",
        {"kept.csv": content_md5(root / "kept.csv"), "summary.csv": content_md5(root / "summary.csv")},
    )
    monkeypatch.setattr(verify_module, "numerical_platform", lambda: _platform("Haswell"))
    rebuilt = []
    monkeypatch.setattr(verify_module, "rebuild", lambda targets: rebuilt.append(targets))
    check = verify_module.verify
    args = (
        Study.from_params(params),
        root / "dvc.lock",
        root / "raw",
        ["s1"],
        root / "platform.json",
        root / "conclusions.json",
    )
    assert check(*args)
    out = capsys.readouterr().out
    assert rebuilt == [["s1"]] and "not rebuilt: 1 outputs of 1 stages" in out
    assert "of the 1 rebuilt stages' outputs, 1 outputs identical to dvc.lock" in out
    (root / "kept.csv").write_text("tampered")
    assert not check(*args)
    out = capsys.readouterr().out
    assert "not rebuilt: kept.csv: its content differs from dvc.lock" in out and len(rebuilt) == 1
    with pytest.raises(UserError, match="unknown stage 'nope'"):
        check(params, root / "dvc.lock", root / "raw", ["nope"], root / "platform.json", root / "conclusions.json")
    with pytest.raises(UserError, match="--seed sets the draw of --sample"):
        check(*args, None, 3)


def test_stages_no_longer_in_the_pipeline_are_not_checked(built, monkeypatch, capsys):
    """dvc.lock keeps the entries of stages removed from dvc.yaml; a check counts only the current pipeline's."""
    from medal.reproduce.verify import content_md5

    verify_module, params, root = built
    (root / "summary.csv").write_text("rebuilt")
    _lock(root / "dvc.lock", {"summary.csv": content_md5(root / "summary.csv"), "data/prepared/gone.npz": "1"})
    monkeypatch.setattr(verify_module.dvc, "stage_names", lambda: {"s0"})
    monkeypatch.setattr(verify_module, "numerical_platform", lambda: _platform("Haswell"))
    monkeypatch.setattr(verify_module, "rebuild", lambda targets: None)
    assert verify_module.verify(
        Study.from_params(params),
        root / "dvc.lock",
        root / "raw",
        ["s0"],
        root / "platform.json",
        root / "conclusions.json",
    )
    out = capsys.readouterr().out
    assert "not rebuilt: 0 outputs of 0 stages" in out and "gone.npz" not in out


def test_the_data_check_compares_with_the_lock_as_committed_not_as_the_rebuild_rewrote_it(built, monkeypatch, capsys):
    """A rebuild that fetched other data rewrites dvc.lock with that data's md5; the check must use the md5 the
    committed lock pinned before the rebuild."""
    verify_module, params, root = built
    params["study"]["datasets"] = ["wdbc"]
    params["datasets"]["wdbc"]["canonical_md5"]["bundled"] = None  # only dvc.lock pins it here
    (root / "raw").mkdir()
    write_json_atomic(root / "raw" / "wdbc.json", {"variant": "bundled"})
    _lock(root / "dvc.lock", {"raw/wdbc.npz": "0" * 32})

    def rebuild(targets):
        (root / "raw" / "wdbc.npz").write_bytes(b"other data")
        _lock(root / "dvc.lock", {"raw/wdbc.npz": md5_file(root / "raw" / "wdbc.npz")})

    monkeypatch.setattr(verify_module, "numerical_platform", lambda: _platform("Haswell"))
    monkeypatch.setattr(verify_module, "rebuild", rebuild)
    assert not verify_module.verify(
        Study.from_params(params), root / "dvc.lock", Path("raw"), [], root / "platform.json", root / "conclusions.json"
    )
    assert f"but dvc.lock pins {'0' * 32}" in capsys.readouterr().out


def test_downstream_stages_rebuild_in_pipeline_order_whatever_the_lock_order():
    from medal.reproduce.verify import DOWNSTREAM_STAGES, _in_groups

    # A stage renamed or added late sits at the end of dvc.lock; paper must still come after the report stage.
    assert _in_groups(["al@x-random", "aggregate", "paper", "report"], DOWNSTREAM_STAGES) == [
        "aggregate",
        "report",
        "paper",
    ]
