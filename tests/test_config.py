import pytest
import yaml

from medal.config import load_params, validate
from medal.errors import UserError


def test_project_params_are_valid(params):
    validate(params)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p["study"].update(strategies=["random", "magic"]),
         "unknown strategy 'magic' in study.strategies; valid: badge, coreset, dal, density_weighted, entropy, "
         "epistemic, least_confident, margin, mc_eer, mcpal, probcover, qbc_kl_divergence, qbc_vote_entropy, "
         "random, typiclust"),
        (lambda p: p["study"].update(learners=["boost"]), "unknown learner 'boost' in study.learners; valid: "),
        (lambda p: p["study"].update(datasets=["mnist"]), "unknown dataset 'mnist' in study.datasets; valid: "),
        (lambda p: p["al"].update(batch_size=0), "al.batch_size must be a positive integer, got 0"),
        (lambda p: p["al"].update(seeds=True), "al.seeds must be a positive integer, got True"),
        (lambda p: p["al"].update(budget=5), "al.budget must be at least al.initial_labels"),
        (lambda p: p["evaluation"].update(primary_metric="auc"), "evaluation.primary_metric must be one of"),
        (lambda p: p["evaluation"].update(target_fractions=[0.9, 1.5]),
         "evaluation.target_fractions must be a non-empty list of numbers in (0, 1]"),
        (lambda p: p["evaluation"].update(target_fractions=[]),
         "evaluation.target_fractions must be a non-empty list of numbers in (0, 1]"),
        (lambda p: p["strategies"].update(odd={"method": "oracle"}), "strategies.odd.method 'oracle' unknown; valid: "),
        (lambda p: p.pop("al"), "missing section 'al'"),
        (lambda p: p["evaluation"].update(drop_threshold=-1), "evaluation.drop_threshold must be a number in [0, 1)"),
        (lambda p: p["strategies"]["dal"].update(k=3), "strategies.dal: unknown option k; valid: max_candidates"),
        (lambda p: p["learners"]["random_forest"].update(update="partial_fit"), "random_forest has no partial_fit"),
        (lambda p: p["study"].update(main_learner="svm"), "study.main_learner 'svm' must be one of study.learners"),
        (lambda p: p["study"].update(learner_strategies=["magic"]),
         "study.learner_strategies must be a non-empty list of names from study.strategies"),
        (lambda p: p["sweeps"].update(datasets=["wdbc2"]), "sweeps.datasets: 'wdbc2' is not in study.datasets"),
        (lambda p: p["sweeps"].update(learner="boost"), "sweeps.learner 'boost' unknown; valid: "),
        (lambda p: p["sweeps"]["settings"].update(batch_size=[10, 0]), "sweeps.settings.batch_size must be a positive integer, got 0"),
        (lambda p: p["sweeps"]["settings"].update(initial_labels=[1000]), "sweeps.settings.initial_labels 1000 exceeds al.budget"),
        (lambda p: p["sweeps"]["settings"].update(label_noise=[0.1, 1.0]),
         "sweeps.settings.label_noise values must be a number in [0, 1), got 1.0"),
        (lambda p: p["sweeps"]["settings"].pop("representation"), "sweeps.settings must set exactly batch_size, initial_labels"),
        (lambda p: p["sweeps"]["settings"]["representation"].update(odd={"features": "hog"}), "prepare features 'hog' unknown"),
        (lambda p: p["evaluation"]["stopping"]["stabilizing_predictions"].update(window=0),
         "evaluation.stopping.stabilizing_predictions.window must be a positive integer, got 0"),
        (lambda p: p["evaluation"]["stopping"].pop("expected_error"), "evaluation.stopping must set exactly"),
        (lambda p: p.update(compute={"n_jobs": 0}), "compute.n_jobs must be a positive integer or -1 (all cores), got 0"),
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
