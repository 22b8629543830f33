"""Loading back a trained network of the space from its one file (written by ``nni-lista export``,
:func:`nni_lista.search.export.save_network`).

The file is a ``torch.save`` dict of plain values and tensors (read back with
``weights_only=True``: nothing in it is unpickled as an object): the format tag, the backbone,
the complete architecture (label map), the problem size ``m x n``, the depth, lambda, the
operator ``A`` (the analytic and coupled weight forms keep ``A`` and weights derived from it
as buffers outside the ``state_dict``), the trained weights (``state_dict``), the problem it was trained on (its spec
and the sha256 of the
instance, :func:`nni_lista.problem.problems.instance_digest`) and the test NMSE it scored there.
:func:`load_network` rebuilds the network from the architecture and loads the weights
(strictly: every tensor with its shape), ready to run ``model(b)`` with no problem at hand.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import torch

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.limits import check_arch_depth, check_layers, check_memory, read_bounded

FORMAT = "nni-lista-network/1"
MAX_NETWORK_FILE_BYTES = 2 << 30  # 2 GiB: a 4000 x 8000 network of 16 layers with untied weights


def read_network(path: str | os.PathLike) -> dict:
    """The checked content of an exported network file (one-line errors for anything else)."""
    where = f"network file {str(path)!r}"
    try:
        data = read_bounded(Path(path), MAX_NETWORK_FILE_BYTES, "network file")
    except FileNotFoundError:
        raise UsageError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{where} is a directory, not a file made by `nni-lista export`") from None
    except OSError as exc:
        raise UsageError(f"cannot read {where}: {exc.strerror or exc}") from None
    try:
        record = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # torch raises many kinds for a damaged or foreign file
        raise UsageError(f"{where} is not a network file made by `nni-lista export` (not readable as one)") from None
    require(
        isinstance(record, dict) and record.get("format") == FORMAT,
        f"{where} is not a network file made by `nni-lista export` (format "
        f"{short(record.get('format') if isinstance(record, dict) else None)})",
    )
    for key, kind in (
        ("backbone", str),
        ("arch", dict),
        ("m", int),
        ("n", int),
        ("layers", int),
        ("lam", float),
        ("state_dict", dict),
        ("test_nmse_db", float),
        ("A", torch.Tensor),
    ):
        require(isinstance(record.get(key), kind), f"{where}: {key} is missing or not a {kind.__name__}")
    return record


def load_network(path: str | os.PathLike) -> torch.nn.Module:
    """The trained network in an exported file, in evaluation mode, on the CPU."""
    from nni_lista.space.backbones import backbone

    record = read_network(path)
    where = f"network file {str(path)!r}"
    family = backbone(record["backbone"])
    m, n, layers = record["m"], record["n"], record["layers"]
    check_layers(layers, f"{where}: layers")
    require(1 <= m <= n, f"{where}: m {m} and n {n} are not allowed: 1 <= m <= n")
    check_arch_depth(record["arch"], where)
    try:
        require(family.validate(record["arch"]) == layers, f"the architecture does not have {layers} layers")
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    A = record["A"]
    require(
        tuple(A.shape) == (m, n) and A.dtype == torch.float32 and bool(torch.isfinite(A).all()),
        f"{where}: its operator A is not a finite {m} x {n} float32 matrix",
    )
    require(
        math.isfinite(record["lam"]) and record["lam"] > 0,
        f"{where}: lam {short(record['lam'])} is not a finite number > 0",
    )
    check_memory(f"the network of {where}", m, n, layers, batch=0, n_fixed=0)
    model = family.build(record["arch"], m, n, A, record["lam"])
    try:
        model.load_state_dict(record["state_dict"], strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UsageError(f"{where}: its weights do not fit its architecture ({short(first, 200)})") from None
    return model.eval()
