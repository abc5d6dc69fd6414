"""The environment a Dask cluster for the study starts with (medal cluster-env)."""

from __future__ import annotations

import subprocess
import sys

import dask
import distributed  # noqa: F401  (loads the distributed.* defaults the settings must name)
import pytest

from medal.blas import CORETYPE_VARIABLE
from medal.experiment.cluster import DASK_SETTINGS, cluster_environment, dask_variable, shell_exports


def test_each_setting_names_a_dask_option_that_exists():
    for key in DASK_SETTINGS:
        dask.config.get(key)  # a misspelt key raises KeyError: an unknown variable would be ignored silently


def test_dask_reads_each_variable_back_as_its_setting():
    config = dask.config.collect_env(cluster_environment())
    for key, value in DASK_SETTINGS.items():
        assert dask.config.get(key, config=config) == value
    variable = "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL"
    assert dask_variable("distributed.worker.memory.monitor-interval") == variable


@pytest.mark.parametrize("coretype", ["Haswell", None])
def test_the_blas_kernel_goes_along_only_when_one_is_pinned(monkeypatch, coretype):
    if coretype is None:
        monkeypatch.delenv(CORETYPE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(CORETYPE_VARIABLE, coretype)
    assert cluster_environment().get(CORETYPE_VARIABLE) == coretype


def test_the_command_prints_exports_a_shell_evaluates_in_any_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(CORETYPE_VARIABLE, "Haswell")
    assert shell_exports().count("export ") == len(DASK_SETTINGS) + 1
    # A worker machine has no params.yaml: the command needs none.
    printed = subprocess.run(
        [sys.executable, "-m", "medal.cli", "cluster-env"], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    shown = subprocess.run(["sh", "-c", printed + "\nenv"], capture_output=True, text=True, check=True).stdout
    for name, value in cluster_environment().items():
        assert f"{name}={value}\n" in shown
