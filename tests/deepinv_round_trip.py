"""deepinv physics -> an nni-lista search -> deepinv's own evaluation, on a tiny case. Run by
tests/test_deepinv.py in the deepinv extra's environment (.venv-deepinv):

    .venv-deepinv/bin/python tests/deepinv_round_trip.py OUT_DIR

A problem from ``deepinv.physics.CompressedSensing`` (32 measurements of 1x8x8 images, sparse in
the 2-D DCT) is saved; ``nni-lista search`` (random search, two architectures) runs on it;
``nni-lista export`` writes the network it found, which ``load_searched_model`` reloads and
``as_deepinv_reconstructor`` wraps; ``deepinv.test`` scores it on the problem's test images, as
deepinv scores any reconstructor, and the script writes ``OUT_DIR/round_trip.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import deepinv
import torch

import nni_lista
from nni_lista.train.evaluation import evaluate

IMAGE = (1, 8, 8)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    physics = deepinv.physics.CompressedSensing(m=32, img_size=IMAGE, rng=torch.Generator().manual_seed(0))
    problem = nni_lista.Problem.from_deepinv(physics, IMAGE, basis="dct", p=0.1, seed=0, n_val=200, n_test=200)
    nni_lista.save_problem(problem, out / "problem.pt")
    tool = str(Path(sys.executable).parent / "nni-lista")
    subprocess.run(
        [
            tool,
            "search",
            "--strategy",
            "random",
            "--space",
            "paper",
            "--layers",
            "4",
            "--problem",
            str(out / "problem.pt"),
            "--budget",
            "2",
            "--max-steps",
            "400",
            "--eval-every",
            "100",
            "--protocol",
            "e2e",
            "--retrain-seeds",
            "1",
            "--out",
            str(out / "search"),
        ],
        check=True,
    )
    subprocess.run([tool, "export", "--from", str(out / "search"), "--out", str(out / "network.pt")], check=True)
    network = nni_lista.load_searched_model(str(out / "network.pt"))
    reconstructor = nni_lista.as_deepinv_reconstructor(network, problem)

    images = problem.test.s.reshape(-1, *IMAGE)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, physics.A(images)), batch_size=50)
    scores = deepinv.test(
        reconstructor,
        loader,
        physics,
        metrics=[deepinv.loss.metric.MSE()],
        device="cpu",
        show_progress_bar=False,
        verbose=False,
        compare_no_learning=True,
    )
    with torch.no_grad():
        estimate = reconstructor(physics.A(images), physics)
    nmse_db = float(10 * torch.log10(((estimate - images) ** 2).sum() / (images**2).sum()))
    record = {
        "deepinv": deepinv.__version__ if hasattr(deepinv, "__version__") else "0.5",
        "torch": torch.__version__,
        "scores": {k: float(v) for k, v in scores.items()},
        "nmse_db_through_deepinv": nmse_db,
        "nmse_db_nni_lista": evaluate(network, problem)["nmse_db"],
        "problem": {"m": problem.m, "n": problem.n},
    }
    (out / "round_trip.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
