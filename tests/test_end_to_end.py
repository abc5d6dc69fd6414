"""The real pipeline: `dvc repro` on a tiny configuration in a temporary copy of the project."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream

from test_images import make_folder

from conftest import MIRROR, ROOT

SECTIONS = ("Introduction", "Related work", "Methods", "Experimental setup", "Results", "Discussion", "Conclusion")
PATH_OPERATORS = {b"m", b"l", b"c", b"re"}


def _copy_project(target: Path) -> None:
    files = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


# Learned features small enough for a test: 16 centroids from 2000 patches, projected on 8 components.
LEARNED = {"features": "learned", "n_centroids": 16, "patch_size": 6, "n_patches": 2000, "pca_components": 8}


# A generated three-class image folder: the study on "your own images", with more than two classes.
FOLDER = "shapes"


def _tiny_params(target: Path) -> list[str]:
    params = yaml.safe_load((target / "params.yaml").read_text())
    make_folder(target / "data" / "sources" / FOLDER, per_class=20)
    params["datasets"][FOLDER] = {"source": "image_folder", "test_fraction": 0.25, "split_seed": 0}
    params["prepare"][FOLDER] = {"features": "pca", "pca_components": 8}
    datasets = ["breastmnist", FOLDER, "wdbc"] if MIRROR.is_dir() else [FOLDER, "wdbc"]
    params["study"] = {
        "datasets": datasets,
        "strategies": ["random", "entropy"],
        "main_learner": "logreg",
        "learners": ["logreg", "sgd_partial_fit"],
        "learner_strategies": ["random", "entropy"],
        "main_seeds_by_dataset": {},
        "learner_datasets": None,
    }
    params["sweeps"] = {
        "datasets": datasets[:1],
        "learner": "logreg",
        "strategies": ["random", "entropy"],
        "settings": {
            "batch_size": [4, 8],
            "initial_labels": [4],
            "label_noise": [0.0, 0.2],
            "representation": {
                "learned": LEARNED,
                "hog": {"features": "hog", "orientations": 4, "pixels_per_cell": 7, "cells_per_block": 2},
                "raw": {"features": "raw"},
            },
            "class_weight": ["balanced", "none"],
        },
        "reference_seeds": 2,
    }
    params["prepare"]["breastmnist"] = LEARNED
    params["select"] = {
        "datasets": datasets[:-1],
        "learner": "logreg",
        "folds": 2,
        "random_state": 0,
        "max_pool": None,
        "grid": {"features": {"pca_components": [4, 8]}, "learner": {"C": [0.1, 1.0]}},
    }
    params["data"]["mirror_dirs"] = [str(MIRROR)]
    params["al"] = {"initial_labels": 4, "batch_size": 8, "budget": 36, "seeds": 2}
    params["study"]["main_seeds"] = 3
    params["cap_check"] = {"dataset": "wdbc", "max_candidates": 50}
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return datasets


def _dvc(target: Path, *args: str) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(["dvc", *args], cwd=target, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    target = tmp_path_factory.mktemp("project")
    _copy_project(target)
    datasets = _tiny_params(target)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    first = _dvc(target, "repro")
    second = _dvc(target, "repro")
    return target, datasets, first, second


@pytest.mark.e2e
def test_repro_builds_everything_then_has_nothing_to_do(built):
    target, datasets, first, second = built
    assert "Running stage 'paper'" in first
    assert "Running stage" not in second
    assert "Data and pipelines are up to date." in second
    lock = yaml.safe_load((target / "dvc.lock").read_text())
    params = yaml.safe_load((target / "params.yaml").read_text())
    for name in [d for d in datasets if d != FOLDER]:
        outs = {o["path"]: o["md5"] for o in lock["stages"][f"fetch@{name}"]["outs"]}
        variant = "bundled" if name == "wdbc" else "mirror"
        assert outs[f"data/raw/{name}.npz"] == params["datasets"][name]["canonical_md5"][variant]


@pytest.mark.e2e
def test_pdf_has_the_sections_and_the_figure(built):
    target = built[0]
    reader = PdfReader(target / "paper" / "_output" / "paper.pdf")
    pages = [page.extract_text() for page in reader.pages]
    text = " ".join(" ".join(pages).split())
    for number, section in enumerate(SECTIONS, start=1):
        assert f"{number} {section}" in text
    assert "Figure 1: Difference from random sampling" in text and "Figure 2: Critical-difference diagram" in text
    assert "Table 1:" in text and "References" in text
    # The supplement: its own numbering, which the paper's references use.
    supplement = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(target / "paper/_output/supplement.pdf").pages
    )
    assert re.search(r"Figure S\d+: Learning curves of every strategy", supplement) and "Table S1:" in supplement
    assert "Table S" in text and "??" not in supplement
    figure_page = next(
        i for i, page in enumerate(pages) if "Figure 1: Difference from random sampling" in " ".join(page.split())
    )
    operations = ContentStream(reader.pages[figure_page].get_contents(), reader).operations
    drawn = sum(1 for _, operator in operations if operator in PATH_OPERATORS)
    assert drawn > 1000, f"only {drawn} path operators on the figure's page: the vector figure is missing"
    assert "??" not in text


@pytest.mark.e2e
def test_html_is_self_contained_and_embeds_the_figure(built):
    target = built[0]
    html = (target / "paper" / "_output" / "paper.html").read_text()
    figure_ids = re.findall(r"\{#(fig-[\w-]+)\}", (target / "paper" / "paper.qmd").read_text())
    assert len(figure_ids) >= 3
    for number, figure_id in enumerate(figure_ids, start=1):
        assert f'id="{figure_id}"' in html and f'href="#{figure_id}">Figure {number}</a>' in html
    images = [base64.b64decode(data).decode() for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]
    assert len(images) == len(figure_ids)  # every figure embedded, none linked
    supplement = (target / "paper" / "_output" / "supplement.html").read_text()
    curves = re.search(r'id="fig-curves".*?src="data:image/svg\+xml;base64,([^"]+)"', supplement, re.S).group(1)
    curves, cd = base64.b64decode(curves).decode(), images[figure_ids.index("fig-cd")]
    # Strategy names (matplotlib keeps text as comments): legend of the curves, labels of the CD diagram.
    assert all("Random" in svg and "Entropy" in svg for svg in (curves, cd))
    assert "CD = " in cd and re.search(r">Figure S\d+:", supplement)
    assert not re.search(r'src="(?!data:)[^"]+\.(svg|png)"', html)
    for section in SECTIONS:
        assert section in html


def _medal(target: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["medal", *args], cwd=target, env=env, capture_output=True, text=True)


@pytest.mark.e2e
def test_verify_rebuilds_everything_and_finds_it_identical(built):
    target = built[0]
    result = _medal(target, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "datasets match their pinned checksums" in result.stdout
    assert result.stdout.rstrip().endswith("\nreproduced") and "DIFFER" not in result.stdout
    measured = next(line for line in result.stdout.splitlines() if "wall-clock outputs differ, as expected" in line)
    assert "data/timings/" in measured  # the rebuild really reran the runs: their timings changed
    # and recomputed every run, none published again from the build it checks
    records = [json.loads(path.read_text()) for path in (target / "data" / "timings").rglob("_stage.json")]
    assert records and all(r["republished"] == 0 and r["computed_on"] for r in records), records


@pytest.mark.e2e
def test_verify_reports_an_output_that_differs_from_the_lock(built):
    target = built[0]
    lock_path = target / "dvc.lock"
    lock = yaml.safe_load(lock_path.read_text())
    stage = lock["stages"]["al@wdbc"]
    recorded = next(o for o in stage["outs"] if o["path"] == "data/runs/wdbc")
    recorded["md5"] = "0" * 32 + ".dir"
    lock_path.write_text(yaml.safe_dump(lock, sort_keys=False))
    result = _medal(target, "verify", "al@wdbc")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DIFFER: data/runs/wdbc\n" in result.stdout and result.stdout.rstrip().endswith("NOT reproduced")
    _dvc(target, "repro")  # the rerun stage's new timings make the report and paper stale: bring them up to date


def _git(target: Path, *args: str) -> None:
    identity = ["-c", "user.name=medal test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", *identity, *args], cwd=target, check=True, capture_output=True)


def _tamper_one_run_file(remote: Path, lock: dict) -> str:
    """Change the stored copy of one run file in a local DVC remote (content-addressed: files/md5/ab/cdef...)."""
    out = next(o for o in lock["stages"]["al@wdbc"]["outs"] if o["path"] == "data/runs/wdbc")
    listing = remote / "files" / "md5" / out["md5"][:2] / out["md5"][2:]
    entry = yaml.safe_load(listing.read_text())[0]
    stored = remote / "files" / "md5" / entry["md5"][:2] / entry["md5"][2:]
    stored.chmod(0o644)
    stored.write_text(stored.read_text() + " ")
    return entry["relpath"]


@pytest.mark.e2e
def test_a_fresh_clone_pulls_the_outputs_and_verifies_a_sample(built, tmp_path):
    target = built[0]
    remote = tmp_path / "remote"
    _dvc(target, "remote", "add", "-d", "published", str(remote))
    _dvc(target, "push")
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "the built study")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(target), str(clone))
    _dvc(clone, "pull")
    result = _medal(clone, "verify", "--sample", "2", "--seed", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "sample (seed 3; repeat with --sample 2 --seed 3): 2 of " in out and "then aggregate, report, paper" in out
    assert "their content matches dvc.lock" in out and out.rstrip().endswith("\nreproduced")
    # The same check on a remote where one run file was changed after the push: DVC pulls it without complaint.
    _tamper_one_run_file(remote, yaml.safe_load((target / "dvc.lock").read_text()))
    tampered = tmp_path / "tampered"
    _git(tmp_path, "clone", "-q", str(target), str(tampered))
    _dvc(tampered, "pull")
    result = _medal(tampered, "verify", "--sample", "2", "--seed", "3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "data/runs/wdbc: its content differs from dvc.lock" in result.stdout
    assert "NOT reproduced" in result.stdout


@pytest.mark.e2e
def test_the_bundle_holds_the_rendered_paper(built, tmp_path):
    import zipfile

    target = built[0]
    result = _medal(target, "bundle", "--output", str(tmp_path / "bundle.zip"))
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        for name in ("paper/_output/paper.pdf", "paper/_output/paper.html", "dvc.lock", "params.yaml"):
            assert archive.read(name) == (target / name).read_bytes()


@pytest.mark.e2e
def test_a_paper_text_change_only_rerenders_in_under_30_seconds(built):
    target = built[0]
    qmd = target / "paper" / "paper.qmd"
    qmd.write_text(qmd.read_text().replace("# Conclusion", "A sentence added by the test.\n\n# Conclusion", 1))
    start = time.perf_counter()
    out = _dvc(target, "repro")
    seconds = time.perf_counter() - start
    assert re.findall(r"Running stage '([^']+)'", out) == ["paper"], out
    assert seconds < 30, f"a text-only rebuild took {seconds:.1f} s"


def _run_files(root: Path) -> dict[str, bytes]:
    """Every run file of the three experiments below ``root``'s data folder, by path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for folder in ("runs", "capped", "sweeps")
        for path in (root / "data" / folder).rglob("*.json")
    }


@pytest.mark.e2e
def test_changing_one_strategy_recomputes_only_its_runs(built, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(built[0], copy, symlinks=True)
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["strategies"]["entropy"]["method"] = "least_confident"
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = set(re.findall(r"^(\S+):$", _dvc(copy, "status"), flags=re.M))
    # Every experiment stage runs entropy, so each is stale, and the report, which quotes strategy options.
    assert {name.split("@")[0] for name in changed} == {"al", "capped", "sweep", "report"}, changed
    before = _run_files(copy)
    _dvc(copy, "repro")
    after = _run_files(copy)
    entropy = {path for path in after if "entropy" in Path(path).parts or Path(path).name.startswith("entropy-")}
    assert entropy and set(after) == set(before)
    assert all(after[path] == before[path] for path in set(after) - entropy)  # the others published again as they were
    assert any(after[path] != before[path] for path in entropy)
    records = [json.loads(path.read_text()) for path in (copy / "data" / "timings").rglob("_stage.json")]
    # Only entropy's runs were computed: every other run was published again from the earlier build.
    assert sum(r["runs"] - r["republished"] for r in records) == len(entropy), records
    assert sum(r["republished"] for r in records) == len(after) - len(entropy)


@pytest.mark.e2e
def test_dvc_plots_draw_the_mean_with_its_band(built):

    target = built[0]
    rendered = json.loads(_dvc(target, "plots", "show", "--json"))["data"]
    curves = {name: plots for name, plots in rendered.items() if name.startswith("data/aggregate/plots/")}
    assert curves, rendered.keys()
    for name, plots in curves.items():
        spec = plots[0]["content"]
        line = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
        band = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "errorband")
        assert line["encoding"]["y"]["field"] == "mean", name  # not the last column (the upper bound)
        assert (band["encoding"]["y"]["field"], band["encoding"]["y2"]["field"]) == ("ci_low", "ci_high")
        rows = spec["data"]["values"]
        assert rows and all(float(r["ci_low"]) <= float(r["mean"]) <= float(r["ci_high"]) for r in rows if r["ci_low"])


@pytest.mark.e2e
def test_verify_on_another_platform_compares_the_conclusions(built):

    from medal.fileio import md5_file

    target = built[0]
    platform_path, conclusions_path = target / "data" / "platform.json", target / "data" / "conclusions.json"
    lock_path = target / "dvc.lock"
    platform, conclusions, lock = platform_path.read_text(), conclusions_path.read_text(), lock_path.read_text()
    committed_md5 = md5_file(platform_path)
    other = json.loads(platform)
    other["platforms"] = [
        {**p, "blas": [entry.rsplit(" ", 1)[0] + " Sandybridge" for entry in p["blas"]]} for p in other["platforms"]
    ]
    try:
        # A build committed from another platform: its platform record, and dvc.lock recording that record.
        platform_path.write_text(json.dumps(other))
        assert committed_md5 in lock
        lock_path.write_text(lock.replace(committed_md5, md5_file(platform_path)))
        result = _medal(target, "verify", "aggregate")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "results cannot be byte-identical, so the conclusions are compared" in result.stdout
        assert result.stdout.rstrip().endswith("conclusions reproduced")
        # A committed decision the rebuild does not reproduce is reported and fails the check.
        tampered = json.loads(conclusions)
        name = next(iter(tampered["decisions"]))
        tampered["decisions"][name] = "tampered"
        conclusions_path.write_text(json.dumps(tampered))
        platform_path.write_text(json.dumps(other))
        result = _medal(target, "verify", "aggregate")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"CHANGED: {name}: " in result.stdout and result.stdout.rstrip().endswith("conclusions NOT reproduced")
    finally:
        platform_path.write_text(platform)
        conclusions_path.write_text(conclusions)
        lock_path.write_text(lock)
        _dvc(target, "repro")


def _lock_outputs(target: Path, prefix: str) -> dict[str, str]:
    """The deterministic outputs dvc.lock records for the stages whose names start with ``prefix``."""
    lock = yaml.safe_load((target / "dvc.lock").read_text())["stages"]
    return {
        o["path"]: o["md5"]
        for name, stage in lock.items()
        if name.startswith(prefix)
        for o in stage["outs"]
        if not o["path"].startswith("data/timings")
    }


@pytest.mark.e2e
def test_submit_computes_the_stale_stages_runs_at_once_on_a_cluster_and_dvc_publishes_them(built, tmp_path):
    from dask.distributed import LocalCluster

    copies = {name: tmp_path / name for name in ("plain", "submitted")}
    for copy in copies.values():
        shutil.copytree(built[0], copy, symlinks=True)
        params = yaml.safe_load((copy / "params.yaml").read_text())
        params["strategies"]["entropy"] = {"method": "margin_sampling"}
        (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = re.findall(r"^(\S+):$", _dvc(copies["plain"], "status"), flags=re.M)
    stale = [name for name in changed if name.startswith(("al@", "capped", "sweep@"))]
    _dvc(copies["plain"], "repro")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        env = dict(os.environ, MEDAL_DASK_SCHEDULER=cluster.scheduler_address)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        result = subprocess.run(["medal", "submit"], cwd=copies["submitted"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stale and f"runs of {len(stale)} stages to compute" in result.stdout, result.stdout
    # Every worker is on this machine: the stages that need no run go after the runs, not beside them.
    assert "$ dvc repro -s select reference\n" in result.stderr and "beside the runs" not in result.stderr
    # dvc repro then only published them: every stale stage found all its runs kept and computed none itself.
    assert result.stderr.count("computed by medal submit") == len(stale), result.stderr
    assert not re.search(r"^\[(?!submit\])[^\]]*\] \d+/\d+ ", result.stderr, flags=re.M), result.stderr
    assert "Data and pipelines are up to date." in _dvc(copies["submitted"], "status")
    assert not (copies["submitted"] / "data" / "partial").exists()
    for prefix in ("al@", "capped", "sweep@", "aggregate"):
        assert _lock_outputs(copies["submitted"], prefix) == _lock_outputs(copies["plain"], prefix), prefix


@pytest.mark.e2e
def test_the_image_folder_is_a_three_class_dataset_of_the_paper_and_one_changed_image_reruns_only_its_stages(built):
    target = built[0]
    provenance = json.loads((target / "data" / "raw" / f"{FOLDER}.json").read_text())
    assert provenance["class_names"] == ["cyst", "normal", "tumour"] and provenance["variant"] == "folder"
    text = PdfReader(target / "paper" / "_output" / "paper.pdf").pages
    assert any("shapes" in page.extract_text() for page in text)
    image = target / "data" / "sources" / FOLDER / "normal" / "003.png"
    original = image.read_bytes()
    try:
        Image.fromarray(np.full((12, 10), 7, dtype=np.uint8)).save(image)
        ran = set(re.findall(r"Running stage '([^']+)'", _dvc(target, "repro")))
        own = {name for name in ran if "@" in name}
        assert f"fetch@{FOLDER}" in own and all(FOLDER in name.split("@")[1] for name in own), ran
        assert ran - own <= {"aggregate", "report", "paper"}, ran
    finally:
        image.write_bytes(original)
        _dvc(target, "repro")
    assert "Data and pipelines are up to date." in _dvc(target, "status")


@pytest.mark.e2e
@pytest.mark.skipif(not MIRROR.is_dir(), reason="needs the MedMNIST mirror folder")
def test_a_temporary_experiment_finds_a_mirror_given_relative_to_the_project(built):
    """`dvc exp run --temp` runs the stages in a copy of the project under .dvc/tmp/exps: a mirror folder written
    relative to the project must still be found there (it was looked for relative to the copy, and fetch went to
    the internet)."""
    target = built[0]
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run([*git, "add", "-A"], cwd=target, check=True, capture_output=True)
    subprocess.run([*git, "commit", "-q", "-m", "built"], cwd=target, check=True, capture_output=True)
    relative = os.path.relpath(MIRROR, target)
    out = _dvc(target, "exp", "run", "--temp", "-S", f"data.mirror_dirs=[{relative}]")
    assert "Running stage 'fetch@breastmnist'" in out and "mirror copy" in out, out
    assert "downloading" not in out
    # The README's `dvc exp show` keeps what differs between experiments: here the mirror setting, out of the
    # hundreds of parameters a plain `dvc exp show` lists.
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("dvc exp show --only-changed"))
    options = shlex.split(command)[3:]
    header = _dvc(target, "exp", "show", "--csv", *options).splitlines()[0].split(",")
    assert "data.mirror_dirs" in header and len(header) <= 8, header
    assert len(_dvc(target, "exp", "show", "--csv").splitlines()[0].split(",")) > 100


@pytest.mark.e2e
def test_every_figure_and_table_of_the_html_has_provenance_matching_the_lock(built):
    target = built[0]
    lock = yaml.safe_load((target / "dvc.lock").read_text())["stages"]
    checksums = {dep["path"]: dep["md5"] for dep in lock["report"]["deps"]}
    stages = yaml.safe_load((target / "dvc.yaml").read_text())["stages"]
    record = json.loads((target / "paper" / "measured" / "provenance.json").read_text())
    for entry in record["files"].values():
        assert entry["stage"] in stages
        for source in entry["inputs"]:
            assert source["md5"] == checksums[source["output"]], source
            assert source["stage"] is None or source["stage"] in stages
    for document in ("paper", "supplement"):
        html = (target / "paper" / "_output" / f"{document}.html").read_text()
        marks = [(m.start(), m.group(1)) for m in re.finditer(r'id="((?:fig|tbl)-[\w-]+)"', html)]
        notes = [m.start() for m in re.finditer(r'<details class="provenance">', html)]
        assert marks and notes
        for (start, identifier), (end, _) in zip(marks, [*marks[1:], (len(html), "")]):
            if identifier != "tbl-provenance":
                assert any(start < note < end for note in notes), f"{document}: {identifier} has no provenance note"
        titles = re.findall(r'<span class="generated" title="([^"]*)"', html)
        assert len(titles) >= 5 and all(titles), titles
    supplement = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(target / "paper/_output/supplement.pdf").pages
    )
    assert "Provenance of every figure and table" in supplement and "stage aggregate" in supplement
