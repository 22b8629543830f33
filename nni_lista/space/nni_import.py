"""NNI's model-space package, imported once without messages that carry nothing for a user
(a shim for NNI 3.0, archived upstream; docs/nni-notes.md).

* Importing ``nni.nas.nn.pytorch`` with torch 2.13 warns twice that ``torch.nn.Buffer`` and
  ``LinearCrossEntropyOptions`` are "not a nn.Module": NNI wraps every name in ``torch.nn`` and
  these two are new non-module classes. Exactly those two warnings are silenced.
* NNI's one-shot package (whose mixed operations the space's DARTS hooks extend) imports its
  RL code, tianshou 0.4.11, which needs gym 0.26.2; importing gym prints a three-line notice to
  stderr (from ``gym_notices``) that gym is unmaintained. It works for NNI's use (tested), and
  the notice would break our one-line error messages, so NNI's one-shot package is imported
  here, once, with stderr captured (the space itself never imports gym or tianshou).

The space's modules import this module before any NNI space code.
"""

import contextlib
import io
import warnings

with contextlib.redirect_stderr(io.StringIO()):
    import nni.nas.oneshot.pytorch  # noqa: F401

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".* is found to be not a nn\.Module", category=RuntimeWarning)
    import nni.nas.nn.pytorch  # noqa: F401
