"""dvc.yaml repeats the file layout that medal.layout defines: every output the pipeline records lies below one of
its paths, and every output path it defines is one the pipeline writes."""

from __future__ import annotations

import yaml

from medal import layout

from conftest import ROOT


def _locked_outputs() -> list[str]:
    stages = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    return [out["path"] for stage in stages.values() for out in stage.get("outs", [])]


def test_every_pipeline_output_lies_in_the_layout():
    outputs = _locked_outputs()
    places = [path.as_posix() for name, path in vars(layout).items() if name.isupper() and not isinstance(path, tuple)]
    assert outputs and all(any(o == p or o.startswith(f"{p}/") for p in places) for o in outputs), [
        o for o in outputs if not any(o == p or o.startswith(f"{p}/") for p in places)
    ]
    for path in (layout.RAW, layout.PREPARED, layout.RUNS, layout.SWEEPS, layout.TIMINGS, layout.AGGREGATE):
        assert any(o.startswith(f"{path.as_posix()}/") for o in outputs), path
    for path in (layout.METRICS, layout.CONCLUSIONS, layout.PLATFORM, layout.GENERATED, layout.MEASURED):
        assert path.as_posix() in outputs, path
