"""Bad input, bad data and a broken manuscript: each fails with one exact line and writes nothing.

Every case runs the real command line in a scratch project and compares the files before and after.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import yaml

from medal.cli import main
from medal.fileio import npz_bytes

from conftest import MIRROR, ROOT, medmnist_arrays

VALID_DATASETS = (
    "bloodmnist, breastmnist, chestmnist, dermamnist, octmnist, organamnist, organcmnist, organsmnist, pathmnist, "
    "pneumoniamnist, retinamnist, tissuemnist, wdbc"
)
VALID_SECTIONS = (
    "al, cap_check, compute, data, datasets, evaluation, learners, paper, prepare, select, strategies, study, sweeps"
)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path, monkeypatch, params):
    """A scratch project: its params (the project's, smaller), WDBC fetched and prepared, a fake MedMNIST mirror."""
    monkeypatch.chdir(tmp_path)
    params["al"].update(initial_labels=4, batch_size=4, budget=12, seeds=1)
    params["study"]["main_seeds"] = 1
    params["sweeps"]["settings"]["initial_labels"] = [4, 8]
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    params["data"]["mirror_dirs"] = [str(mirror)]
    _write(params)
    assert main(["fetch", "wdbc"]) == 0 and main(["prepare", "wdbc"]) == 0
    return params


def _write(params: dict) -> None:
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _fails(capsys, argv: list[str], message: str) -> None:
    """``medal argv`` exits with 2, prints exactly ``error: message`` and leaves every file as it was."""
    before = _snapshot(Path("."))
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"error: {message}" and err.count("error:") == 1, err
    assert _snapshot(Path(".")) == before


def _with(params: dict, change) -> dict:
    changed = copy.deepcopy(params)
    change(changed)
    _write(changed)
    return changed


# --- params.yaml --------------------------------------------------------------------------------

PARAMS_CASES = [
    ("unknown section", lambda p: p.update(studdy={}), f"params.yaml: unknown key 'studdy'; valid: {VALID_SECTIONS}"),
    (
        "unknown key",
        lambda p: p["al"].update(bugdet=5),
        "params.yaml: unknown key 'al.bugdet'; valid: batch_size, budget, initial_labels, label_noise, max_candidates, "
        "scale_with_classes, seeds",
    ),
    (
        "unknown learner key",
        lambda p: p["learners"]["logreg"].update(estimater="x"),
        "params.yaml: unknown key 'learners.logreg.estimater'; valid: class_weight, epochs, estimator, params, "
        "params_by_dataset, update",
    ),
    (
        "learner parameters for an unknown dataset",
        lambda p: p["learners"]["logreg"].update(params_by_dataset={"breastmnst": {"C": 0.1}}),
        "params.yaml: learners.logreg.params_by_dataset names 'breastmnst', which is not in datasets; "
        "remove or rename it",
    ),
    (
        "bad learner parameter for one dataset",
        lambda p: p["learners"]["logreg"].update(params_by_dataset={"breastmnist": {"C": 0}}),
        "params.yaml: learners.logreg.params_by_dataset.breastmnist: The 'C' parameter of LogisticRegression must be "
        "a float in the range (0.0, inf]. Got 0 instead; see scikit-learn's documentation",
    ),
    (
        "unknown dataset",
        lambda p: p["study"].update(datasets=["mnist"]),
        f"params.yaml: unknown dataset 'mnist' in study.datasets; valid: {VALID_DATASETS}",
    ),
    (
        "unknown learner",
        lambda p: p["study"].update(learners=["xgboost"]),
        "params.yaml: unknown learner 'xgboost' in study.learners; valid: gnb_partial_fit, gnb_refit, logreg, "
        "mlp_partial_fit, mlp_refit, mlp_warm_start, random_forest, sgd_partial_fit, sgd_refit, sgd_warm_start, "
        "svm_rbf",
    ),
    (
        "unknown strategy",
        lambda p: p["study"].update(strategies=["random", "oracle"]),
        "params.yaml: unknown strategy 'oracle' in study.strategies; valid: badge, coreset, dal, density_weighted, "
        "entropy, "
        "epistemic, least_confident, margin, mc_eer, mcpal, probcover, qbc_kl_divergence, qbc_vote_entropy, random, "
        "typiclust",
    ),
    (
        "zero batch",
        lambda p: p["al"].update(batch_size=0),
        "params.yaml: al.batch_size must be a positive integer, got 0",
    ),
    (
        "negative batch",
        lambda p: p["al"].update(batch_size=-5),
        "params.yaml: al.batch_size must be a positive integer, got -5",
    ),
    (
        "non-integer seeds",
        lambda p: p["al"].update(seeds=2.5),
        "params.yaml: al.seeds must be a positive integer, got 2.5",
    ),
    (
        "budget below initial set",
        lambda p: p["al"].update(budget=2),
        "params.yaml: al.budget must be at least al.initial_labels",
    ),
    (
        "unsafe name",
        lambda p: p["datasets"].update({"../../etc": {"source": "medmnist"}}),
        "params.yaml: datasets name '../../etc' must use only letters, digits, '_', '-' and '.'",
    ),
    (
        "misspelt estimator parameter",
        lambda p: p["learners"]["logreg"]["params"].update(Cc=2.0),
        "params.yaml: learners.logreg.params: LogisticRegression.__init__() got an unexpected keyword argument 'Cc'; "
        "see scikit-learn's documentation",
    ),
    (
        "unknown strategy option",
        lambda p: p["strategies"]["entropy"].update(beta=2),
        "params.yaml: strategies.entropy: unknown option beta; valid: max_candidates, subsample_pool, "
        "unlabelled_per_labelled",
    ),
    (
        "partial_fit without support",
        lambda p: p["learners"]["random_forest"].update(update="partial_fit"),
        "params.yaml: learners.random_forest: random_forest has no partial_fit; set update: fit",
    ),
    (
        "noise of one",
        lambda p: p["sweeps"]["settings"].update(label_noise=[0.0, 1.0]),
        "params.yaml: sweeps.settings.label_noise values must be a number in [0, 1), got 1.0",
    ),
    (
        "bad scheduler",
        lambda p: p["compute"].update(dask_scheduler="localhost"),
        "params.yaml: compute.dask_scheduler must be null or an address like tcp://host:8786, got 'localhost'",
    ),
]


@pytest.mark.parametrize("change, message", [case[1:] for case in PARAMS_CASES], ids=[case[0] for case in PARAMS_CASES])
def test_bad_params_fail_before_any_work(project, capsys, change, message):
    _with(project, change)
    _fails(capsys, ["al", "wdbc"], message)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda p: p["evaluation"]["test_bootstrap"].update(random_state=-1),
            "params.yaml: evaluation.test_bootstrap.random_state must be a whole number at least 0 (a seed: null would "
            "draw another one each run), got -1",
        ),
        (
            lambda p: p["learners"]["logreg"]["params"].update(C="3e-2"),
            "params.yaml: learners.logreg.params.C is the text '3e-2' (YAML reads an exponent without a decimal point, "
            "or a quoted number, as text); write it as a number, e.g. 0.03",
        ),
        (
            lambda p: p["learners"]["logreg"]["params"].update(random_state=1),
            "params.yaml: learners.logreg.params.random_state is set by the study itself (each run's seed); remove it",
        ),
        (
            lambda p: p["strategies"]["qbc_vote_entropy"].update(n_members=True),
            "params.yaml: strategies.qbc_vote_entropy.n_members is true, which YAML reads from "
            "true/false/yes/no/on/off; write the number or name meant",
        ),
    ],
    ids=["negative bootstrap seed", "number read as text", "learner seed", "boolean count"],
)
def test_settings_that_crashed_late_fail_at_load_in_every_command(project, capsys, change, message):
    """Settings that used to pass the check and crash a later stage (aggregate, 45 minutes in) stop every command,
    the aggregate stage's too, before any work."""
    _with(project, change)
    _fails(capsys, ["aggregate"], message)
    _fails(capsys, ["fetch", "wdbc"], message)


def test_invalid_yaml_is_named_with_line_and_column(project, capsys):
    Path("params.yaml").write_text("study:\n  datasets: [wdbc\nal: {seeds: 2}\n")
    _fails(
        capsys,
        ["prepare", "wdbc"],
        "params.yaml: not valid YAML at line 3, column 3 (expected ',' or ']', but got ':'); fix the syntax there",
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda p: p["learners"]["logreg"]["params"].update(C="abc"),
            "params.yaml: learners.logreg.params: The 'C' parameter of LogisticRegression must be a float in the range "
            "(0.0, inf]. Got 'abc' instead; see scikit-learn's documentation",
        ),
        (
            lambda p: p["learners"]["svm_rbf"]["params"].update(C=-1),
            "params.yaml: learners.svm_rbf.params: The 'C' parameter of CalibratedSVC must be a float in the range "
            "(0.0, inf]. Got -1 instead; see scikit-learn's documentation",
        ),
        (
            lambda p: p["learners"]["random_forest"]["params"].update(n_estimators=0),
            "params.yaml: learners.random_forest.params: The 'n_estimators' parameter of RandomForestClassifier "
            "must be an "
            "int in the range [1, inf). Got 0 instead; see scikit-learn's documentation",
        ),
    ],
    ids=["wrong type", "negative C", "no trees"],
)
def test_wrong_estimator_values_fail_before_any_work(project, capsys, change, message):
    _with(project, change)
    _fails(capsys, ["al", "wdbc"], message)


def test_a_learner_that_fails_to_fit_stops_the_run_and_publishes_nothing(project, capsys):
    # Valid for scikit-learn's parameter checks, so only fitting finds it: the library wrapper would
    # silently predict class priors instead.
    _with(project, lambda p: p["learners"]["mlp_refit"]["params"].update(early_stopping=True, validation_fraction=0.99))
    capsys.readouterr()
    assert main(["al", "wdbc"]) == 2
    err = capsys.readouterr().err
    assert (
        err.splitlines()[-1]
        == (
            "error: wdbc, seed 0: learner 'mlp_refit' (mlp) failed to fit: With n_samples=4, test_size=0.99 and "
            "train_size=None, the resulting train set will be empty. Adjust any of the aforementioned parameters; "
            "fix learners.mlp_refit in params.yaml"
        )
        and err.count("error:") == 1
    )
    # Nothing published; the runs of the other learners are kept in data/partial for the rerun.
    assert not Path("data/runs").exists() and not Path("data/timings").exists()


def test_budget_larger_than_the_pool(project, capsys):
    _with(project, lambda p: p["al"].update(budget=1000))
    _fails(
        capsys,
        ["al", "wdbc"],
        "params.yaml: al.budget gives wdbc 1000 labels, more than its pool of 398 samples; lower al.budget",
    )


def test_initial_set_that_cannot_hold_every_class(project, capsys):
    _with(project, lambda p: p["al"].update(initial_labels=1))
    _fails(
        capsys,
        ["al", "wdbc"],
        "params.yaml: initial labelled set of 1 cannot hold one sample of each of the 2 classes of wdbc; "
        "raise al.initial_labels (and sweeps.settings.initial_labels) to at least 2",
    )


def test_pca_larger_than_the_feature_count(project, capsys):
    _with(project, lambda p: p["prepare"].update(wdbc={"features": "pca", "pca_components": 31}))
    _fails(capsys, ["prepare", "wdbc"], "params.yaml: prepare pca_components must be an integer in 1..30, got 31")


# --- data -------------------------------------------------------------------------------------


def _refuse_network(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise OSError("network access refused by the test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_missing_medmnist_file_says_where_it_looked_and_how_to_get_it(project, capsys, monkeypatch):
    _refuse_network(monkeypatch)
    url = project["datasets"]["breastmnist"]["url"]
    _fails(
        capsys,
        ["fetch", "breastmnist"],
        f"breastmnist.npz is not in {Path.cwd() / 'mirror'}, data/downloads and downloading {url} "
        "failed (URLError); "
        "put the file in one of data.mirror_dirs, or download it from that URL",
    )


def _mirror_file(arrays: dict, pin: bool, params: dict) -> str:
    payload = npz_bytes(arrays)
    Path("mirror/breastmnist.npz").write_bytes(payload)
    md5 = hashlib.md5(payload).hexdigest()
    if pin:  # a user who re-pinned a damaged copy: the content checks must still catch it
        _with(params, lambda p: p["datasets"]["breastmnist"]["source_md5"].update(mirror=md5))
    return md5


def test_checksum_mismatch_names_expected_and_got(project, capsys):
    got = _mirror_file(medmnist_arrays(), False, project)
    pins = project["datasets"]["breastmnist"]["source_md5"]
    url = project["datasets"]["breastmnist"]["url"]
    _fails(
        capsys,
        ["fetch", "breastmnist"],
        f"{Path.cwd() / 'mirror' / 'breastmnist.npz'}: md5 {got} does not match the pin {pins['official']} (official) "
        f"or {pins['mirror']} (mirror); delete the file or replace it with the official one from {url}",
    )


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (
            lambda a: a.update(train_images=np.zeros((30, 784), dtype=np.uint8)),
            "train_images must be uint8 of shape (n, h, w) or (n, h, w, 3), got uint8 (30, 784)",
        ),
        (
            lambda a: a.update(test_labels=np.full(10, 5, dtype=np.uint8)),
            "test_labels outside 0..1; the file is corrupted",
        ),
        (lambda a: a.pop("val_labels"), "missing arrays val_labels; this is not a MedMNIST file"),
        (
            lambda a: a.update(train_labels=np.arange(30) % 2 + 0.7),
            "train_labels must hold integer class indices, got float64; the file is corrupted or not a MedMNIST file",
        ),
        (
            lambda a: a.update(val_images=a["val_images"][:0], val_labels=a["val_labels"][:0]),
            "the val split is empty; every split needs samples",
        ),
        (
            lambda a: a.update(test_images=np.zeros((10, 32, 32), dtype=np.uint8)),
            "samples differ in shape between splits (train (28, 28), val (28, 28), test (32, 32)); resize them to "
            "one shape",
        ),
        (
            lambda a: a.update(train_labels=np.zeros(30, dtype=np.uint8)),
            "the training split (the pool) holds a single class; active learning needs two or more",
        ),
    ],
    ids=[
        "wrong shape",
        "label out of range",
        "missing array",
        "float labels",
        "empty split",
        "sizes differ",
        "single class",
    ],
)
def test_malformed_medmnist_content(project, capsys, corrupt, message):
    arrays = medmnist_arrays()
    corrupt(arrays)
    _mirror_file(arrays, True, project)
    _fails(capsys, ["fetch", "breastmnist"], f"{Path.cwd() / 'mirror' / 'breastmnist.npz'}: {message}")


def test_truncated_prepared_file(project, capsys):
    data = Path("data/prepared/wdbc.npz").read_bytes()
    Path("data/prepared/wdbc.npz").write_bytes(data[: len(data) // 3])
    _fails(
        capsys,
        ["al", "wdbc"],
        "data/prepared/wdbc.npz: unreadable .npz (BadZipFile); delete it and rebuild it",
    )


def test_missing_prepared_file(project, capsys):
    Path("data/prepared/wdbc.npz").unlink()
    _fails(capsys, ["al", "wdbc"], "data/prepared/wdbc.npz: not found; run dvc repro, which builds it")


def test_file_that_needs_pickle_is_refused(project, capsys):
    np.savez("data/raw/wdbc.npz", X_train=np.array([{"a": 1}], dtype=object))
    _fails(
        capsys,
        ["prepare", "wdbc"],
        "data/raw/wdbc.npz: holds pickled Python objects, which are refused for safety; use a file of plain arrays",
    )


def test_wrong_canonical_pin(project, capsys):
    _with(project, lambda p: p["datasets"]["wdbc"]["canonical_md5"].update(bundled="0" * 32))
    got = project["datasets"]["wdbc"]["canonical_md5"]["bundled"]
    _fails(
        capsys,
        ["fetch", "wdbc"],
        f"wdbc: canonical file md5 {got} but params.yaml pins {'0' * 32} for the bundled copy; "
        "check the source file, or update the pin if the change is intended",
    )


# --- the manuscript ------------------------------------------------------------------------------

PAPER = """---
title: Mini
---
# Intro {#sec-intro}

See @sec-intro [@settles2009survey].

BODY

# References {.unnumbered}

::: {#refs}
:::
"""


def _paper(body: str, renderer: str = "pandoc") -> None:
    paper = Path("paper")
    paper.mkdir(exist_ok=True)
    for name in ("crossref.lua", "references.bib"):
        shutil.copy(ROOT / "paper" / name, paper / name)
    (paper / "_variables.yml").write_text("n: 7\n")
    (paper / "paper.qmd").write_text(PAPER.replace("BODY", body))


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "![A figure.](generated/missing.svg){#fig-x}\n\nSee @fig-x.",
            "paper: pandoc failed: Could not fetch resource generated/missing.svg",
        ),
        ("As shown [@nobody2099].", "paper: pandoc failed: Citeproc: citation nobody2099 not found"),
        (
            "See @tbl-missing.",
            "paper: pandoc failed: unresolved cross-reference @tbl-missing: no figure, table or section has that id",
        ),
        (
            "{{< include generated/missing.md >}}",
            "paper: included file paper/generated/missing.md not found; rerun `dvc repro report`",
        ),
        (
            "{{< var nope >}}",
            "paper: {{< var nope >}} is not in _variables.yml; rerun `dvc repro report` or fix the name",
        ),
    ],
    ids=["missing figure", "unknown citation", "unresolved cross-reference", "missing include", "unknown variable"],
)
def test_broken_manuscript_fails_the_paper_stage(project, capsys, body, message):
    _paper(body)
    _fails(capsys, ["paper", "--renderer", "pandoc"], message)


def test_missing_renderer(project, capsys, monkeypatch):
    _paper("Fine.")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _fails(
        capsys,
        ["paper", "--renderer", "quarto"],
        "paper: renderer quarto requested but quarto is not on PATH; install it or set paper.renderer: auto",
    )


# --- the offline path with networking refused ------------------------------------------------------


@pytest.mark.skipif(not MIRROR.is_dir(), reason="needs the MedMNIST mirror folder")
def test_offline_pipeline_runs_with_networking_refused(project, monkeypatch, capsys):
    _refuse_network(monkeypatch)
    # One process, so that the refused socket covers every run.
    _with(project, lambda p: (p["data"].update(mirror_dirs=[str(MIRROR)]), p["compute"].update(n_jobs=1)))
    for argv in (
        ["fetch", "breastmnist"],
        ["prepare", "breastmnist"],
        ["al", "breastmnist"],
        ["al", "wdbc"],
    ):
        assert main(argv) == 0, capsys.readouterr().err
    assert len(list(Path("data/runs/breastmnist/margin").glob("*.json"))) == 1


def test_a_failed_report_stage_leaves_the_previous_manuscript_parts_whole(project, capsys, monkeypatch):
    """The report stage writes into new folders and swaps them in only when everything is written: a failure
    half-way leaves paper/generated and paper/measured exactly as they were, and no staging folder behind."""
    import medal.report.build
    from medal.errors import UserError

    for folder in ("generated", "measured"):
        Path("paper", folder).mkdir(parents=True)
        Path("paper", folder, "old.md").write_text("the previous build's text\n")

    def half_way(params, inputs, raw, runs, aggregate, timings, generated, measured, variables, platform):
        (generated / "learning_curves.svg").write_text("<svg/>")
        (measured / "timing.md").write_text("new\n")
        raise UserError("aggregate output missing; run `dvc repro aggregate` first")

    monkeypatch.setattr(medal.report.build, "build_all", half_way)
    _fails(capsys, ["report"], "aggregate output missing; run `dvc repro aggregate` first")
    assert sorted(p.name for p in Path("paper").iterdir()) == ["generated", "measured"]


def test_joblib_copies_go_to_the_project_and_those_of_a_killed_command_are_removed(project, monkeypatch):
    """joblib's memory-mapped copies (parallel model selection and references) live in data/partial/joblib, not in
    the system's shared memory, and the next command removes those of a process that is gone (a kill -9), and the
    named semaphores of such a process's workers in /dev/shm."""
    import os

    monkeypatch.delenv("JOBLIB_TEMP_FOLDER", raising=False)
    scratch = Path("data/partial/joblib")
    dead = scratch / "joblib_memmapping_folder_999999999_a1b2_c3d4"
    alive = scratch / f"joblib_memmapping_folder_{os.getpid()}_a1b2_c3d4"
    for folder in (dead, alive):
        folder.mkdir(parents=True)
        (folder / "array.pkl").write_bytes(b"x")
    semaphores = Path("/dev/shm")
    dead_semaphore, live_semaphore = semaphores / "sem.loky-999999999-test", semaphores / f"sem.loky-{os.getpid()}-t"
    if semaphores.is_dir():
        dead_semaphore.write_bytes(b"")
        live_semaphore.write_bytes(b"")
    seen = []
    monkeypatch.setattr("medal.cli.cmd_prepare", lambda params, args: seen.append(os.environ["JOBLIB_TEMP_FOLDER"]))
    assert main(["prepare", "wdbc"]) == 0
    assert seen == [str(scratch.resolve())] and "JOBLIB_TEMP_FOLDER" not in os.environ
    assert not dead.exists() and alive.exists()
    shutil.rmtree(alive)
    assert main(["prepare", "wdbc"]) == 0
    assert not Path("data/partial").exists()  # an emptied scratch folder does not stay behind
    if semaphores.is_dir():
        assert not dead_semaphore.exists() and live_semaphore.exists()
        live_semaphore.unlink()
