"""The BLAS kernel decision, tested as a function of the environment and the CPU: tests never set
OPENBLAS_CORETYPE themselves (the machines this runs on may set it, and that choice is respected)."""

from __future__ import annotations

import threadpoolctl

from medal.blas import PINNED_KERNEL, KernelChoice, choose_kernel, cpu_flags
from medal.reproduce.environment import blas_libraries, numerical_platform, run_environment

AVX2_FMA = frozenset({"sse2", "avx", "avx2", "fma", "avx512f"})


def test_unset_on_x86_64_with_avx2_and_fma_selects_haswell():
    assert choose_kernel({}, "x86_64", AVX2_FMA) == KernelChoice(PINNED_KERNEL) == KernelChoice("Haswell")
    assert choose_kernel({"OPENBLAS_CORETYPE": ""}, "AMD64", AVX2_FMA) == KernelChoice("Haswell")


def test_a_value_already_set_is_left_untouched_and_silent():
    for value in ("Haswell", "SkylakeX", "Sandybridge"):
        assert choose_kernel({"OPENBLAS_CORETYPE": value}, "x86_64", AVX2_FMA) == KernelChoice(None, None)
    # Respected even where the study's kernel could not run.
    assert choose_kernel({"OPENBLAS_CORETYPE": "Nehalem"}, "x86_64", frozenset()) == KernelChoice(None, None)


def test_no_avx2_or_fma_leaves_the_kernel_with_a_one_line_notice():
    for flags, missing in (
        (frozenset({"avx", "fma"}), "avx2"),
        (frozenset({"avx2"}), "fma"),
        (frozenset(), "avx2, fma"),
    ):
        choice = choose_kernel({}, "x86_64", flags)
        assert choice.coretype is None
        assert f"lacks {missing}," in choice.notice and "\n" not in choice.notice


def test_other_architectures_are_not_pinned_with_a_one_line_notice():
    for machine in ("aarch64", "arm64", "ppc64le"):
        choice = choose_kernel({}, machine, AVX2_FMA)
        assert choice.coretype is None
        assert choice.notice.startswith(f"BLAS kernel not pinned on a {machine} CPU") and "\n" not in choice.notice


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\n")
    assert cpu_flags(cpuinfo) == frozenset({"fpu", "sse2", "avx2", "fma"})
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_the_kernel_in_use_is_recorded_in_the_environment_and_platform():
    recorded = sorted(library["kernel"] for library in blas_libraries())  # loads numpy's and scipy's BLAS
    in_use = sorted(info["architecture"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas")
    assert recorded == in_use and len(in_use) >= 1
    platform = numerical_platform()
    assert sorted(entry.rsplit(" ", 1)[1] for entry in platform["blas"]) == in_use
    assert set(platform["versions"]) == {"numpy", "scipy", "scikit-learn", "scikit-activeml"}
    record = run_environment()
    assert record["platform"] == platform and record["blas"] == blas_libraries()
