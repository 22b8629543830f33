"""Does gradient clipping matter for training ALISTA-AT? Measured in one run.

    .venv/bin/python benchmarks/clipping.py [--quick] [--out FILE]

ALISTA-AT and ALISTA on the SNR 40 dB problem of the discovery benchmark (250x500, p = 0.1,
T = 16, problem seed 40), end-to-end at lr 5e-3 for ``--steps`` steps (no early stop), with the
gradient's global norm not clipped, clipped at 1.0 and at 0.1 (``TrainConfig.clip_norm``).
Prints each run's validation curve, its final validation NMSE and its learned step sizes of the
first layers, and writes them to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nni_lista.base.io import write_json
from nni_lista.base.tables import markdown_table
from nni_lista.problem.problems import SyntheticSettings, make_synthetic
from nni_lista.space.architectures import named_architecture
from nni_lista.space.spaces import build
from nni_lista.train.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64x128, T = 6, 300 steps")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=Path("results/clipping/clipping.json"))
    args = parser.parse_args()
    m, n, layers, steps = (64, 128, 6, 300) if args.quick else (250, 500, 16, args.steps)
    problem = make_synthetic(SyntheticSettings(m=m, n=n, snr_db=40.0, seed=40))
    rows, runs = [], []
    for name in ("alista-at", "alista"):
        for clip in (None, 1.0, 0.1):
            model = build(named_architecture(name, layers), m, n, problem.A)
            config = TrainConfig(
                protocol="e2e",
                max_steps=steps,
                eval_every=max(1, steps // 6),
                patience=steps,
                lr=5e-3,
                seed=0,
                clip_norm=clip,
            )
            result = train(model, problem, config, None, progress=False)
            curve = [round(h["val_nmse_db"], 2) for h in result.history]
            gammas = [round(float(p.detach()), 2) for key, p in model.named_parameters() if key.endswith("gamma")][:4]
            runs.append(
                {
                    "model": name,
                    "clip_norm": clip,
                    "val_curve": curve,
                    "best_val_nmse_db": min(curve),
                    "first_step_sizes": gammas,
                    "seconds": round(result.seconds, 1),
                }
            )
            rows.append(
                [
                    name,
                    "none" if clip is None else f"{clip:g}",
                    " ".join(f"{v:.1f}" for v in curve),
                    f"{min(curve):.2f}",
                    ", ".join(f"{g:.2f}" for g in gammas),
                ]
            )
    print(f"{m}x{n}, T = {layers}, SNR 40 dB, lr 5e-3, {steps} steps, training seed 0")
    print(markdown_table(["model", "clip norm", "validation dB at each check", "best", "step sizes, layers 1-4"], rows))
    write_json(args.out, {"setting": {"m": m, "n": n, "layers": layers, "steps": steps}, "runs": runs})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
