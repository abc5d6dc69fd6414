import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medal.config import load_params, validate
from medal.errors import UserError
from medal.values import NUMBER_TEXT

from conftest import ROOT


def test_project_params_are_valid_and_the_check_is_not_vacuous(params):
    assert validate(params) is None and params["study"]["strategies"]
    del params["strategies"][params["study"]["strategies"][-1]]  # a study naming an undefined strategy
    with pytest.raises(UserError, match="in study.strategies"):
        validate(params)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda p: p["study"].update(strategies=["random", "magic"]),
            "unknown strategy 'magic' in study.strategies; valid: badge, coreset, dal, density_weighted, entropy, "
            "epistemic, least_confident, margin, mc_eer, mcpal, probcover, qbc_kl_divergence, qbc_vote_entropy, "
            "random, typiclust",
        ),
        (lambda p: p["study"].update(learners=["boost"]), "unknown learner 'boost' in study.learners; valid: "),
        (lambda p: p["study"].update(datasets=["mnist"]), "unknown dataset 'mnist' in study.datasets; valid: "),
        (lambda p: p["al"].update(batch_size=0), "al.batch_size must be a positive integer, got 0"),
        (lambda p: p["al"].update(seeds=True), "al.seeds is true, which YAML reads from true/false/yes/no/on/off"),
        (lambda p: p["study"].update(main_seeds=0), "study.main_seeds must be a positive integer, got 0"),
        (
            lambda p: p["study"].update(strategies=["entropy", "coreset"], learner_strategies=["entropy"]),
            "study.strategies must include random, the baseline every strategy is compared with",
        ),
        (lambda p: p["al"].update(budget=5), "al.budget must be at least al.initial_labels"),
        (lambda p: p["evaluation"].update(primary_metric="auc"), "evaluation.primary_metric must be one of"),
        (
            lambda p: p["evaluation"].update(target_fractions=[0.9, 1.5]),
            "evaluation.target_fractions values must be a number in (0, 1], got 1.5",
        ),
        (
            lambda p: p["evaluation"].update(target_fractions=[]),
            "evaluation.target_fractions must be a non-empty list (each value a number in (0, 1]), got []",
        ),
        (lambda p: p["strategies"].update(odd={"method": "oracle"}), "strategies.odd.method 'oracle' unknown; valid: "),
        (lambda p: p.pop("al"), "missing section 'al'"),
        (lambda p: p["evaluation"].update(drop_threshold=-1), "evaluation.drop_threshold must be a number in [0, 1)"),
        (
            lambda p: p["strategies"]["dal"].update(k=3),
            "strategies.dal: unknown option k; valid: max_candidates, subsample_pool, unlabelled_per_labelled",
        ),
        (lambda p: p["learners"]["random_forest"].update(update="partial_fit"), "random_forest has no partial_fit"),
        (lambda p: p["study"].update(main_learner="svm"), "unknown learner 'svm' in study.main_learner; valid: "),
        (
            lambda p: p["study"].update(learner_strategies=["magic"]),
            "unknown strategy 'magic' in study.learner_strategies; valid: badge, coreset",
        ),
        (
            lambda p: p["sweeps"].update(datasets=["wdbc2"]),
            "unknown dataset 'wdbc2' in sweeps.datasets; valid: bloodmnist, breastmnist, organamnist, pneumoniamnist, "
            "retinamnist, wdbc",
        ),
        (lambda p: p["sweeps"].update(learner="boost"), "unknown learner 'boost' in sweeps.learner; valid: "),
        (
            lambda p: p["sweeps"]["settings"].update(batch_size=[10, 0]),
            "sweeps.settings.batch_size values must be a positive integer, got 0",
        ),
        (
            lambda p: p["sweeps"]["settings"].update(initial_labels=[1000]),
            "sweeps.settings.initial_labels values must not exceed al.budget (250)",
        ),
        (
            lambda p: p["sweeps"]["settings"].update(label_noise=[0.1, 1.0]),
            "sweeps.settings.label_noise values must be a number in [0, 1), got 1.0",
        ),
        (
            lambda p: p["sweeps"]["settings"].pop("representation"),
            "sweeps.settings must set exactly batch_size, initial_labels",
        ),
        (
            lambda p: p["sweeps"]["settings"]["representation"].update(odd={"features": "wavelets"}),
            "sweeps.settings.representation.odd features 'wavelets' unknown; valid: raw, pca, learned, hog",
        ),
        (
            lambda p: p["prepare"]["wdbc"].update(features="learned"),
            "prepare.wdbc features 'learned' need images; use raw or pca for tabular data",
        ),
        (
            lambda p: p["prepare"]["breastmnist"].update(L=0),
            "prepare.breastmnist: The 'L' parameter of ScatteringFeatures must be an int in the range",
        ),
        (
            lambda p: p["prepare"]["breastmnist"].update(n_centroid=8),
            "unknown key 'n_centroid' in prepare.breastmnist (scattering features); valid: features, pca_components",
        ),
        (
            lambda p: p["select"]["grid"]["learner"].update(C=[0.1, -1]),
            "learners.logreg.params: The 'C' parameter of LogisticRegression must be",
        ),
        (
            lambda p: p["select"].update(datasets=["wdbc"]),
            "select.datasets: 'wdbc' holds no images; list image datasets there",
        ),
        (
            lambda p: p["evaluation"]["stopping"]["stabilizing_predictions"].update(window=0),
            "evaluation.stopping.stabilizing_predictions.window must be a positive integer, got 0",
        ),
        (lambda p: p["evaluation"]["stopping"].pop("expected_error"), "evaluation.stopping must set exactly"),
        (
            lambda p: p.update(compute={"n_jobs": 0}),
            "compute.n_jobs must be a positive integer or -1 (all cores), got 0",
        ),
    ],
)
def test_invalid_params_name_the_problem(params, mutate, message):
    mutate(params)
    with pytest.raises(UserError) as info:
        validate(params)
    assert message in str(info.value)


def test_load_params_reports_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="parameters file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(bad)


def test_load_params_round_trip(tmp_path, params):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(params))
    assert load_params(path)["al"] == params["al"]


def test_medal_n_jobs_overrides_compute_n_jobs_and_a_bad_value_is_named(tmp_path, params, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.setenv("MEDAL_N_JOBS", "1")
    assert params["compute"]["n_jobs"] != 1 and load_params(path)["compute"]["n_jobs"] == 1
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv("MEDAL_N_JOBS", bad)
        with pytest.raises(
            UserError, match=f"MEDAL_N_JOBS must be a positive integer or -1 .*got '{bad}'; fix or unset"
        ):
            load_params(path)


# Property tests: random configurations built from the project's own params.yaml.
BASE = yaml.safe_load((ROOT / "params.yaml").read_text())
NOT_A_POSITIVE_INT = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
).filter(lambda v: not (isinstance(v, float) and v.is_integer() and v > 0))


def _subset(items: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), min_size=1, max_size=len(items), unique=True)


@st.composite
def valid_params(draw) -> dict:
    params = yaml.safe_load(yaml.safe_dump(BASE))
    study = params["study"]
    study["datasets"] = draw(
        _subset([name for name, spec in params["datasets"].items() if not spec.get("multi_label")])
    )
    study["strategies"] = ["random", *draw(_subset([s for s in params["strategies"] if s != "random"]))]
    study["learners"] = draw(_subset(list(params["learners"])))
    study["main_learner"] = draw(st.sampled_from(study["learners"]))
    study["learner_strategies"] = draw(_subset(study["strategies"]))
    initial = draw(st.integers(2, 40))
    params["al"] = {
        "initial_labels": initial,
        "batch_size": draw(st.integers(1, 30)),
        "budget": draw(st.integers(initial, 400)),
        "seeds": draw(st.integers(1, 20)),
    }
    params["sweeps"]["datasets"] = draw(st.lists(st.sampled_from(study["datasets"]), unique=True))
    images = [d for d in study["datasets"] if params["datasets"][d]["source"] == "medmnist"] or ["breastmnist"]
    study["datasets"] = list(dict.fromkeys([*study["datasets"], *images]))
    params["select"]["datasets"] = draw(_subset(images))
    params["sweeps"]["learner"] = draw(st.sampled_from(list(params["learners"])))
    params["sweeps"]["strategies"] = draw(_subset(list(params["strategies"])))
    settings_ = params["sweeps"]["settings"]
    settings_["batch_size"] = draw(st.lists(st.integers(1, 50), min_size=1, max_size=4))
    settings_["initial_labels"] = draw(st.lists(st.integers(2, initial), min_size=1, max_size=4))
    settings_["label_noise"] = draw(st.lists(st.floats(0, 0.99), min_size=1, max_size=4))
    params["compute"]["n_jobs"] = draw(st.sampled_from([-1, 1, 2, 8]))
    params["cap_check"] = {"dataset": draw(st.sampled_from(study["datasets"])), "max_candidates": draw(st.integers(1))}
    seeds = params["al"]["seeds"]
    study["main_seeds"] = draw(st.integers(seeds, 30))
    study["learner_datasets"] = draw(_subset(study["datasets"]))
    study["main_seeds_by_dataset"] = {d: draw(st.integers(seeds, 30)) for d in draw(_subset(study["datasets"]))}
    return params


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_params())
def test_random_valid_configurations_pass(params):
    validate(params)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_params(), st.sampled_from(["initial_labels", "batch_size", "budget", "seeds"]), NOT_A_POSITIVE_INT)
def test_a_protocol_value_that_is_not_a_positive_integer_is_named(params, key, value):
    params["al"][key] = value
    with pytest.raises(UserError) as info:
        validate(params)
    if isinstance(value, bool):  # what YAML makes of yes/no: named as such
        assert str(info.value).startswith(f"params.yaml: al.{key} is {str(value).lower()}, which YAML reads from")
    elif isinstance(value, str) and NUMBER_TEXT.fullmatch(value.strip()):  # a number YAML read as text
        assert str(info.value).startswith(f"params.yaml: al.{key} is the text '{value}'")
    else:
        assert str(info.value) == f"params.yaml: al.{key} must be a positive integer, got {value!r}"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_params(), st.text(min_size=1, max_size=12).filter(lambda k: k not in BASE))
def test_an_unknown_section_is_named_with_the_valid_ones(params, key):
    params[key] = {}
    with pytest.raises(UserError) as info:
        validate(params)
    assert str(info.value) == f"params.yaml: unknown key '{key}'; valid: {', '.join(sorted(BASE))}"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_params(), st.sampled_from(["datasets", "strategies", "learners"]), st.text(min_size=1, max_size=12))
def test_an_unknown_name_in_the_study_lists_the_valid_ones(params, kind, name):
    section = params["datasets" if kind == "datasets" else kind]
    if name in section:
        return
    params["study"][kind].append(name)
    singular = {"datasets": "dataset", "strategies": "strategy", "learners": "learner"}[kind]
    with pytest.raises(UserError) as info:
        validate(params)
    assert str(info.value) == (
        f"params.yaml: unknown {singular} '{name}' in study.{kind}; valid: {', '.join(sorted(section))}"
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 12), st.integers(1, 9), st.integers(0, 30))
def test_valid_protocols_run_and_spend_exactly_their_budget(initial, batch, extra):
    import numpy as np

    from medal.experiment.learners import Learner
    from medal.experiment.loop import Protocol, run_active_learning
    from medal.experiment.strategies import Strategy

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    X = rng.normal(size=(80, 3)) + y[:, None]
    params = yaml.safe_load(yaml.safe_dump(BASE))
    params["al"].update(initial_labels=initial, batch_size=batch, budget=initial + extra)
    params["sweeps"]["settings"]["initial_labels"] = [initial]
    validate(params)
    protocol = Protocol.for_pool(params["al"], y[:60])
    result = run_active_learning(
        X[:60],
        y[:60],
        X[60:],
        y[60:],
        Learner.from_params("logreg", params["learners"]["logreg"]),
        Strategy.from_params("entropy", {"method": "entropy"}, random_state=0),
        protocol,
        0,
    )
    labels = [cycle["labels"] for cycle in result.cycles]
    assert labels == protocol.label_counts(60) and labels[-1] == min(initial + extra, 60)
    assert all(len(c["queried"]) == b - a for c, a, b in zip(result.cycles[1:], labels, labels[1:]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset": "chestmnist"}, "unknown dataset 'chestmnist' in cap_check.dataset; valid: bloodmnist, "),
        ({"max_candidates": 0}, "cap_check.max_candidates must be a whole number at least 1 or null"),
        ({"max_candidates": 1000}, r"cap_check.max_candidates must be below al.max_candidates \(1000\), the cap"),
    ],
)
def test_a_cap_check_that_cannot_check_the_cap_is_named(params, change, message):
    params["cap_check"].update(change)
    with pytest.raises(UserError, match=message):
        validate(params)


def test_the_cap_check_needs_the_main_experiments_seeds_to_compare_with(params):
    params["study"]["main_seeds"] = params["al"]["seeds"] - 1
    with pytest.raises(
        UserError, match=r"study.main_seeds \(and study.main_seeds_by_dataset\) must be at least al.seeds"
    ):
        validate(params)


def test_fewer_main_seeds_are_allowed_only_where_no_other_experiment_reuses_the_runs(params):
    params["study"]["learner_datasets"] = ["breastmnist"]
    params["study"]["main_seeds_by_dataset"] = {"wdbc": params["al"]["seeds"] - 1}
    validate(params)  # wdbc: neither in the learner comparison, the sweeps nor the cap check
    params["study"]["main_seeds_by_dataset"] = {"breastmnist": params["al"]["seeds"] - 1}
    with pytest.raises(UserError, match="on the learner comparison's, the sweeps' and the cap check's datasets"):
        validate(params)
    params["study"]["main_seeds_by_dataset"] = {"chestmnist": 3}
    with pytest.raises(UserError, match="main_seeds_by_dataset names a dataset that is not in study.datasets"):
        validate(params)


def _dvc_params() -> list[str]:
    """The params.yaml keys dvc.yaml's stages depend on, with ${...} left out (entries named by the study)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    keys = {
        entry
        for stage in stages.values()
        for entry in (stage.get("do", stage).get("params") or [])
        if isinstance(entry, str) and "${" not in entry
    }
    return sorted(keys)


@pytest.mark.parametrize("key", _dvc_params())
def test_a_setting_a_stage_depends_on_cannot_be_left_out(params, key):
    # DVC stops with "Parameters ... are missing" when a key its stages read is absent: the check names it first.
    *parents, last = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    del node[last]
    where = ".".join(parents)
    with pytest.raises(UserError, match=rf"params.yaml: (missing section '{last}'|{where} (is missing key|must set))"):
        validate(params)
