"""Cradle's benchmarks: every hot path against a baseline measured in the same run."""
