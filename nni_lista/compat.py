"""Shims for NNI 3.0 as it is today (archived upstream; STUDY.md section 6). Each with its reason.

1. Importing ``nni.nas.nn.pytorch`` with torch 2.13 warns twice that ``torch.nn.Buffer`` and
   ``LinearCrossEntropyOptions`` are "not a nn.Module": NNI wraps every name in ``torch.nn``
   and these two are new non-module classes. Harmless; we import NNI once with exactly those
   two warnings silenced so that users do not read them as errors.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".* is found to be not a nn\.Module", category=RuntimeWarning)
    import nni.nas.nn.pytorch  # noqa: F401
