"""Analysis of searched architectures (label maps), after Meng et al. (ICLR 2021) and pycls
(Radosavovic et al., "On Network Design Spaces for Visual Recognition", ICCV 2019).

* :func:`skip_frequency` -- the "averaged architecture": a T x T destination x origin matrix
  whose entry (k, j) is the fraction of architectures where layer k takes estimate ``x^j``
  (the always-on predecessor edge, j = k-1, is 1; layer 1 reads only ``b``).
* :func:`neuron_frequency` -- per layer, the fraction of architectures with each neuron type.
* :func:`graft` -- the averaged pattern as one architecture: a skip is on where at least half of
  the architectures have it, each layer takes its most frequent neuron.
* :func:`pattern_correlation` -- how alike two averaged patterns are: the Pearson correlation of
  their skip and neuron frequencies (``None`` when one of them does not vary).
* :func:`edf` -- the empirical distribution function of a sample (pycls's error EDF).
"""

from __future__ import annotations

import math
import re
from typing import Optional, Sequence

import numpy as np

from .neurons import NEURONS

_SKIP = re.compile(r"^layer(\d+)/skip_from(\d+)$")
_NEURON = re.compile(r"^layer(\d+)/neuron$")


def skip_frequency(archs: Sequence[dict], layers: int) -> np.ndarray:
    """Row k-1, column j-1: fraction of ``archs`` whose layer k takes ``x^j`` (1 on j = k-1)."""
    matrix = np.zeros((layers, layers))
    for k in range(2, layers + 1):
        matrix[k - 1, k - 2] = 1.0
    for arch in archs:
        for label, value in arch.items():
            match = _SKIP.match(label)
            if match and value == "on":
                k, j = map(int, match.groups())
                matrix[k - 1, j - 1] += 1.0 / len(archs)
    return matrix


def neuron_frequency(archs: Sequence[dict], layers: int, neurons: Sequence[str] = tuple(NEURONS)) -> np.ndarray:
    """Row k-1, column i: fraction of ``archs`` whose layer k uses neuron ``neurons[i]``."""
    matrix = np.zeros((layers, len(neurons)))
    for arch in archs:
        for label, value in arch.items():
            match = _NEURON.match(label)
            if match:
                matrix[int(match.group(1)) - 1, list(neurons).index(value)] += 1.0 / len(archs)
    return matrix


def graft(archs: Sequence[dict], labels: dict) -> dict:
    """The averaged pattern of ``archs`` as an architecture with the given ``labels``
    (label -> allowed values): skips on where at least half of ``archs`` have them, neurons by
    majority (ties go to the earlier name in the registry); other labels keep the first
    architecture's value when allowed, else the label's first value."""
    out = {}
    for label, allowed in labels.items():
        values = [arch[label] for arch in archs if label in arch]
        if _SKIP.match(label):
            out[label] = "on" if values and 2 * values.count("on") >= len(archs) else "off"
        elif _NEURON.match(label) and values:
            out[label] = max(allowed, key=lambda name: (values.count(name), -allowed.index(name)))
        else:
            out[label] = values[0] if values and values[0] in allowed else allowed[0]
    return out


def pattern_vector(archs: Sequence[dict], layers: int) -> np.ndarray:
    """Skip frequencies below the predecessor diagonal, then neuron frequencies, flattened."""
    skips = skip_frequency(archs, layers)
    below = [skips[k, j] for k in range(layers) for j in range(k - 1)]
    return np.concatenate([np.array(below), neuron_frequency(archs, layers).ravel()])


def pattern_correlation(a: Sequence[dict], b: Sequence[dict], layers: int) -> Optional[float]:
    """Pearson correlation of the averaged patterns of two sets of architectures."""
    x, y = pattern_vector(a, layers), pattern_vector(b, layers)
    if x.std() == 0 or y.std() == 0:
        return None
    value = float(np.corrcoef(x, y)[0, 1])
    return None if math.isnan(value) else value


def edf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Sorted values and the fraction of the sample at or below each."""
    ordered = sorted(values)
    return ordered, [(i + 1) / len(ordered) for i in range(len(ordered))]
