"""A stage's work (PCA features, then active-learning runs with two learners) in a process of its own, for the
BLAS-kernel part: python -m benchmarks.workloads.kernel pinned|native SEEDS. With "native" numpy is imported before
medal, so OpenBLAS keeps the kernel it picks for this CPU and medal cannot pin it. Prints seconds, kernels, scores."""

import sys

if sys.argv[1] == "native":
    import numpy  # noqa: F401

import json  # noqa: E402
import time  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from medal.config import load_params  # noqa: E402
from medal.data.prepare import prepare  # noqa: E402
from medal.experiment.learners import Learner  # noqa: E402
from medal.experiment.loop import Protocol, run_active_learning  # noqa: E402
from medal.experiment.strategies import Strategy  # noqa: E402
from medal.fileio import load_npz  # noqa: E402
from medal.reproduce.environment import numerical_platform  # noqa: E402

if __name__ == "__main__":
    params = load_params("params.yaml")
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        data = prepare(load_npz("data/raw/pneumoniamnist.npz"), params["prepare"]["pneumoniamnist"])
        scores = []
        for learner in ("logreg", "mlp_refit"):
            for seed in range(int(sys.argv[2])):
                result = run_active_learning(
                    data["X_pool"],
                    data["y_pool"],
                    data["X_test"],
                    data["y_test"],
                    Learner.from_params(learner, params["learners"][learner]),
                    Strategy.from_params("entropy", params["strategies"]["entropy"], random_state=seed),
                    Protocol.for_pool(params["al"], data["y_pool"]),
                    seed,
                )
                scores.append([c["balanced_accuracy"] for c in result.cycles])
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "blas": numerical_platform()["blas"], "scores": scores}))
