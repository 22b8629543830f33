"""Searching the space with NNI: strategies, trials, evaluators, the NNI manager, shims for NNI 3.0."""
