import numpy as np

from medal.data.prepare import prepare
from medal.experiment.reference import run_reference
from medal.fileio import read_json, write_npz_atomic
from medal.study import Study

from conftest import medmnist_arrays


def _files(tmp_path):
    a = medmnist_arrays(n_train=40)
    raw = {
        "X_train": a["train_images"],
        "y_train": a["train_labels"].astype(np.int64),
        "X_test": a["test_images"],
        "y_test": a["test_labels"].astype(np.int64),
    }
    write_npz_atomic(tmp_path / "raw.npz", raw)
    write_npz_atomic(tmp_path / "prepared.npz", prepare(raw, {"features": "pca", "pca_components": 5}))
    return tmp_path / "raw.npz", tmp_path / "prepared.npz"


def _params(params):
    params["study"]["learners"] = ["logreg", "gnb_refit"]
    params["al"]["seeds"] = 2
    params["study"]["main_seeds"] = 2
    params["prepare"]["d"] = {"features": "pca", "pca_components": 5}
    params["sweeps"]["datasets"] = ["d"]
    params["sweeps"]["settings"]["representation"] = {
        "same": {"features": "pca", "pca_components": 5},
        "raw": {"features": "raw"},
    }
    params["compute"]["n_jobs"] = 1
    return params


def test_reference_scores_every_learner_and_seed_on_each_representation(tmp_path, params):
    raw, prepared = _files(tmp_path)
    run_reference(Study.from_params(_params(params)), "d", raw, prepared, tmp_path / "ref.json")
    result = read_json(tmp_path / "ref.json")
    assert result["pool_size"] == 40 and set(result["learners"]) == {"logreg", "gnb_refit"}
    assert [s["seed"] for s in result["learners"]["logreg"]] == [0, 1]
    assert set(result["representations"]) == {"same", "raw"}
    # The representation equal to the study's features holds the very same scores, not a recomputation.
    assert result["representations"]["same"]["learners"] == result["learners"]
    assert result["representations"]["raw"]["settings"] == {"features": "raw"}
    assert result["representations"]["raw"]["learners"] != result["learners"]


def test_reference_scores_do_not_depend_on_the_number_of_processes(tmp_path, params):
    raw, prepared = _files(tmp_path)
    run_reference(Study.from_params(_params(params)), "d", raw, prepared, tmp_path / "one.json")
    params["compute"]["n_jobs"] = 2
    run_reference(Study.from_params(params), "d", raw, prepared, tmp_path / "two.json")
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()


def test_a_dataset_outside_the_sweeps_has_only_its_own_features(tmp_path, params):
    raw, prepared = _files(tmp_path)
    params = _params(params)
    params["sweeps"]["datasets"] = []
    run_reference(Study.from_params(params), "d", raw, prepared, tmp_path / "ref.json")
    assert read_json(tmp_path / "ref.json")["representations"] == {}


def test_learners_that_differ_only_in_their_update_are_fitted_once_per_seed(tmp_path, params, monkeypatch):
    import medal.experiment.reference as reference

    raw, prepared = _files(tmp_path)
    params = _params(params)
    params["study"]["learners"] = ["sgd_refit", "sgd_warm_start", "sgd_partial_fit"]
    params["sweeps"]["datasets"] = []
    fitted = []
    score = reference.score_whole_pool

    def counted(data, name, spec, seed):
        fitted.append(name)
        return score(data, name, spec, seed)

    monkeypatch.setattr(reference, "score_whole_pool", counted)
    run_reference(Study.from_params(params), "d", raw, prepared, tmp_path / "ref.json")
    learners = read_json(tmp_path / "ref.json")["learners"]
    # Refit and warm start fit the same model from scratch on the whole pool; partial_fit weighs by sample weights.
    assert sorted(fitted) == ["sgd_partial_fit"] * 2 + ["sgd_refit"] * 2
    assert learners["sgd_warm_start"] == learners["sgd_refit"]
    alone = _params(params)
    alone["study"]["learners"] = ["sgd_warm_start"]
    run_reference(Study.from_params(alone), "d", raw, prepared, tmp_path / "alone.json")
    assert read_json(tmp_path / "alone.json")["learners"]["sgd_warm_start"] == learners["sgd_refit"]
