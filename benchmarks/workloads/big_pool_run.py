"""One active-learning run (logistic regression, entropy sampling, 60 labels) on a synthetic pool of the given size,
in a process of its own so that its peak memory can be measured: python -m benchmarks.workloads.big_pool_run
PARAMS POOL."""

import sys

from benchmarks.common import synthetic

from medal.config import load_params
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, run_active_learning
from medal.experiment.strategies import Strategy

if __name__ == "__main__":
    params = load_params(sys.argv[1])
    data = synthetic(int(sys.argv[2]))
    run_active_learning(
        data["X_pool"],
        data["y_pool"],
        data["X_test"],
        data["y_test"],
        Learner.from_params("logreg", params["learners"]["logreg"]),
        Strategy("entropy", "entropy", random_state=0),
        Protocol(10, 10, 60),
        0,
    )
