"""dvc.yaml repeats the file layout that medal.layout defines: every output the pipeline records lies below one of
its paths, and every output path it defines is one the pipeline writes."""

from __future__ import annotations

from medal import layout
from medal.reproduce.verify import locked_stages, stage_outputs

from conftest import ROOT


def test_every_pipeline_output_lies_in_the_layout():
    outputs = list(stage_outputs(locked_stages(ROOT / "dvc.lock")))
    places = [path.as_posix() for name, path in vars(layout).items() if name.isupper() and not isinstance(path, tuple)]
    assert outputs and all(any(o == p or o.startswith(f"{p}/") for p in places) for o in outputs), [
        o for o in outputs if not any(o == p or o.startswith(f"{p}/") for p in places)
    ]
    for path in (layout.RAW, layout.PREPARED, layout.RUNS, layout.SWEEPS, layout.TIMINGS, layout.AGGREGATE):
        assert any(o.startswith(f"{path.as_posix()}/") for o in outputs), path
    for path in (layout.METRICS, layout.CONCLUSIONS, layout.PLATFORM, layout.GENERATED, layout.MEASURED):
        assert path.as_posix() in outputs, path


def test_user_paths_start_from_the_project_also_in_an_experiment_copy(tmp_path):
    from medal.layout import user_root

    copy = tmp_path / "project" / ".dvc" / "tmp" / "exps" / "tmp1a2b"
    copy.mkdir(parents=True)
    assert user_root(copy) == (tmp_path / "project").resolve()
    assert user_root(tmp_path / "project") == tmp_path / "project"
