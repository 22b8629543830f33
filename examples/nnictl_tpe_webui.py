"""Run an nnictl experiment as the README says, wait for a few trials, and screenshot NNI's web
UI with the per-layer NMSE curves (headless Chromium). From the repo root:

    .venv/bin/python examples/nnictl_tpe_webui.py --config strategies/tpe.yml --trials 3 \
        --out results/webui/tpe-paper-16.png

It runs ``nnictl create --config CONFIG --port PORT`` with the localhost preload, polls NNI's
REST API until TRIALS trials have finished, saves the screenshot, and stops the experiment.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from nni_lista.search.manager import bound_to, rest, trials
from nni_lista.search.webui import show_trials

FINISHED = ("SUCCEEDED", "FAILED", "EARLY_STOPPED", "USER_CANCELED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("strategies/tpe.yml"))
    parser.add_argument("--trials", type=int, default=3, help="finished trials to wait for (default 3)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--out", type=Path, default=Path("runs/webui.png"))
    args = parser.parse_args()

    nnictl = Path(sys.executable).with_name("nnictl")
    with bound_to("127.0.0.1"):  # the manager nnictl starts inherits the localhost preload
        created = subprocess.run(
            [str(nnictl), "create", "--config", str(args.config), "--port", str(args.port)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    if created.returncode != 0:
        print(created.stdout + created.stderr, file=sys.stderr)
        return 1
    experiment_id = rest(args.port, "experiment")["id"]
    print(f"experiment {experiment_id}: web UI at http://127.0.0.1:{args.port}", flush=True)
    try:
        started = time.time()
        while True:
            jobs = rest(args.port, "trial-jobs")
            done = [job for job in jobs if job["status"] in FINISHED]
            print(f"\r{len(done)}/{args.trials} trials finished ({time.time() - started:.0f} s)", end="", flush=True)
            if len(done) >= args.trials or rest(args.port, "check-status")["status"] in ("DONE", "ERROR"):
                break
            time.sleep(2)
        print()
        finals = {
            trial_id: trial["final"][0]["default"] for trial_id, trial in trials(args.port).items() if trial["final"]
        }
        show_trials(
            f"http://127.0.0.1:{args.port}", [job["trialJobId"] for job in done], list(finals.values()), args.out
        )
        for job in done:
            print(
                f"trial {job['trialJobId']}: {job['status']}, validation NMSE "
                f"{-finals.get(job['trialJobId'], float('nan')):.2f} dB"
            )
        print(f"wrote {args.out}")
    finally:
        subprocess.run([str(nnictl), "stop", experiment_id], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
