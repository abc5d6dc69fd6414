"""The generated sentences on the strategies the Methods describe and a study may leave out."""

from medal.report.variables import _epistemic_note, _strategies_left_out
from medal.study import Study


def _provenance(classes_by_dataset):
    return {d: {"title": d.upper(), "class_names": [f"c{i}" for i in range(k)]} for d, k in classes_by_dataset.items()}


def _study(params, datasets, strategies):
    params["study"].update(datasets=datasets, strategies=strategies)
    return Study.from_params(params)


def test_the_notes_name_what_a_multi_class_study_leaves_out_and_why(params):
    study = _study(params, ["a", "b"], ["random", "entropy"])
    provenance = _provenance({"a": 2, "b": 5})
    assert _epistemic_note(study, provenance) == "; this study, with multi-class sets, leaves it out"
    assert _strategies_left_out(study, provenance) == (
        "Two strategies of the literature are not in the answer: epistemic uncertainty, defined for two classes only, "
        "and MC expected error reduction, whose cost grows with the classes times the batch (see Query strategies in "
        "the Methods)."
    )


def test_the_notes_follow_a_two_class_study_that_runs_them(params):
    provenance = _provenance({"a": 2})
    study = _study(params, ["a"], ["random", "epistemic"])
    assert _epistemic_note(study, provenance) == "; this study runs it"
    assert _strategies_left_out(study, provenance).startswith("One strategy of the literature is not in the answer: MC")
    study = _study(params, ["a"], ["random", "epistemic", "mc_eer"])
    assert _strategies_left_out(study, provenance) == ""
    study = _study(params, ["a"], ["random", "mc_eer"])
    assert _epistemic_note(study, provenance) == "; this study leaves it out"
    assert "epistemic uncertainty, not run in this study" in _strategies_left_out(study, provenance)
