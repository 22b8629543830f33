"""Sparse-recovery problems (synthetic and natural-image compressive sensing) and their metrics."""
