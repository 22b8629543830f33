#!/usr/bin/env bash
# Evolution and DARTS on the default problem (250x500, p=0.1, noiseless, T=16), each followed by
# retraining the best architecture and LISTA from scratch with the same protocol and budget
# (end-to-end, 1500 Adam steps of batch 64) and scoring both on the same test set.
# About 45 minutes on a 2-core machine. Results: runs/evolution-250x500/, runs/darts-250x500/,
# runs/darts-connectivity-250x500/.
set -euo pipefail
cd "$(dirname "$0")/.."
NNI_LISTA=${NNI_LISTA:-.venv/bin/nni-lista}
"$NNI_LISTA" search --strategy evolution --space connectivity --layers 16 --budget 10 \
    --protocol e2e --max-steps 1500 --eval-every 250 --out runs/evolution-250x500
"$NNI_LISTA" search --strategy darts --space paper --layers 16 --budget 3000 \
    --protocol e2e --max-steps 1500 --eval-every 250 --out runs/darts-250x500
"$NNI_LISTA" search --strategy darts --space connectivity --layers 16 --budget 3000 \
    --protocol e2e --max-steps 1500 --eval-every 250 --out runs/darts-connectivity-250x500
