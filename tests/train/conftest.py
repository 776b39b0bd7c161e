"""Training: the DP loop, tasks and models, heavy imports."""
