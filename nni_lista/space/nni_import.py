"""NNI's model-space package, imported once without two harmless warnings (a shim for NNI 3.0,
archived upstream; docs/nni-notes.md).

Importing ``nni.nas.nn.pytorch`` with torch 2.13 warns twice that ``torch.nn.Buffer`` and
``LinearCrossEntropyOptions`` are "not a nn.Module": NNI wraps every name in ``torch.nn`` and
these two are new non-module classes. We silence exactly those two warnings so that users do
not read them as errors. The space's modules import this module before any NNI space code.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".* is found to be not a nn\.Module", category=RuntimeWarning)
    import nni.nas.nn.pytorch  # noqa: F401
