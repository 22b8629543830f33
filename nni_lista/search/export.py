"""The files a user takes away: an architecture (a JSON label map, :func:`save_arch`), a trained
network with everything needed to rebuild it (:func:`save_network`), and ``nni-lista export``
(:func:`export_search`), the network a search found, retrained, in one file.

:func:`export_search` reads a search's output directory (``top.json``, ``best_arch.json`` and the retraining's
``retrain/searched/checkpoint.pt``), checks that the retraining finished and that its weights
belong to this architecture and problem, and writes the file of
:mod:`nni_lista.space.exported`, which ``LISTASpace.load_searched_model(path)`` loads back.
Writing lives here, not in the space: :mod:`nni_lista.space` writes no files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import torch

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.io import torch_save, write_json
from nni_lista.base.limits import MAX_TENSOR_FILE_BYTES, check_regular_file
from nni_lista.search.handback import read_top
from nni_lista.problem.problems import instance_digest, resolve_problem
from nni_lista.space.backbones import backbone
from nni_lista.space.architectures import validate
from nni_lista.space.exported import FORMAT
from nni_lista.train.evaluation import evaluate


def save_arch(arch: dict, path: str | os.PathLike) -> Path:
    """Write a validated architecture as a JSON label map, atomically."""
    validate(arch)
    return write_json(path, dict(arch))


def save_network(
    path: str | os.PathLike,
    model: torch.nn.Module,
    arch: dict,
    *,
    backbone: str,
    A: torch.Tensor,
    lam: float,
    problem: object,
    problem_digest: str,
    test_nmse_db: float,
) -> Path:
    """Write ``model``'s weights with everything needed to rebuild it, atomically."""
    return torch_save(
        path,
        {
            "format": FORMAT,
            "backbone": backbone,
            "arch": dict(arch),
            "m": int(A.shape[0]),
            "n": int(A.shape[1]),
            "layers": int(getattr(model, "layers")),
            "A": A.detach().cpu().float(),
            "lam": float(lam),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "problem": problem,
            "problem_digest": problem_digest,
            "test_nmse_db": float(test_nmse_db),
        },
    )


def _top(run: Path) -> dict:
    top = read_top(run)
    require(
        isinstance(top.get("retrained"), dict) and isinstance(top["retrained"].get("searched"), dict),
        f"{str(run / 'top.json')!r} is not the record of a finished `nni-lista search` (no retrained network)",
    )
    return top


def export_search(run: Path, out: Path) -> dict:
    """Write the retrained searched network of search directory ``run`` to ``out``; returns
    ``{"arch", "m", "n", "layers", "test_nmse_db", "path"}``."""
    run = Path(run)
    top = _top(run)
    retrained = top["retrained"]["searched"]
    settings = retrained.get("settings")
    require(
        isinstance(settings, dict) and isinstance(settings.get("arch"), dict),
        f"{str(run / 'top.json')!r}: the retrained network's settings hold no architecture",
    )
    family = backbone(str(settings.get("backbone", "lista")))
    arch = settings["arch"]
    layers = family.validate(arch)
    spec = top.get("problem")
    require(isinstance(spec, dict), f"{str(run / 'top.json')!r}: it holds no problem")
    problem = resolve_problem(cast(dict, spec))
    checkpoint = run / "retrain" / "searched" / "checkpoint.pt"
    try:
        check_regular_file(checkpoint, MAX_TENSOR_FILE_BYTES, "checkpoint")  # as every checkpoint reader does
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(
            f"{str(checkpoint)!r} does not exist: the retrained weights are kept there by `nni-lista search`; "
            "run the search again in that directory to remake them"
        ) from None
    except UsageError:
        raise
    except Exception:
        raise UsageError(f"{str(checkpoint)!r} is not a readable checkpoint") from None
    require(
        isinstance(state, dict) and state.get("finished") is True and isinstance(state.get("model"), dict),
        f"{str(checkpoint)!r} is not a finished retraining: run the same search command again to finish it",
    )
    lam = float(settings.get("lam"))
    model = family.build(arch, problem.m, problem.n, problem.A, lam)
    try:
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError:
        raise UsageError(
            f"{str(checkpoint)!r} holds weights of another network than {str(run / 'top.json')!r} names"
        ) from None
    tested = evaluate(model, problem)["nmse_db"]
    recorded = retrained.get("nmse_db")
    require(
        isinstance(recorded, (int, float)) and abs(tested - recorded) < 1e-3,
        f"the weights in {str(checkpoint)!r} test at {tested:.4f} dB, not the {short(recorded)} dB top.json records: "
        "they belong to another problem instance or run",
    )
    save_network(
        out,
        model,
        arch,
        backbone=family.name,
        A=problem.A,
        lam=lam,
        problem=top.get("problem"),
        problem_digest=instance_digest(problem),
        test_nmse_db=tested,
    )
    return {"arch": arch, "m": problem.m, "n": problem.n, "layers": layers, "test_nmse_db": tested, "path": str(out)}
