"""The experiments: learners, query strategies, the active-learning loop and the runner that executes a stage's runs,
plus the whole-pool references and the model selection on the pool."""
