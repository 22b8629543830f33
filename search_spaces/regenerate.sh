#!/usr/bin/env bash
# Regenerate every search_spaces/PRESET-LAYERS.json from the model space (never edit them by hand).
set -euo pipefail
cd "$(dirname "$0")"
NNI_LISTA=${NNI_LISTA:-../.venv/bin/nni-lista}
for file in *-*.json; do
    name=${file%.json}
    "$NNI_LISTA" export-space --space "${name%-*}" --layers "${name##*-}" --out "$file"
done
