#!/usr/bin/env bash
# guidellm and aiperf, unchanged, against `tandem serve` on the demo model (CPU backend); one table at the end.
#
#   bench/clients/run.sh [TANDEM_BINARY] [MODEL.gguf] [clients.py options...]
#
# TANDEM_BINARY defaults to build/src/main/tandem (`scripts/build tandem` builds it; nothing is built here),
# MODEL to what `scripts/fetch_model` prints. On first run the tools are installed from PyPI into .venv-clients at
# the repo root (git-ignored; about 4 GB, since guidellm pulls torch), pinned by bench/clients/requirements.txt.
# Env: OUT (results folder; default a new bench/clients/out-DATE, git-ignored via out-*/ in its .gitignore),
# PYTHON (python3). Options after the model go to clients.py (--help), e.g. --concurrency 1 2 4 --duration 30.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
bin=build/src/main/tandem
if [[ $# -gt 0 && $1 != -* ]]; then bin=$1; shift; fi
if [[ $# -gt 0 && $1 != -* ]]; then model=$1; shift; else model=$(scripts/fetch_model); fi
[[ -x $bin ]] || { echo "no tandem binary at $bin (build it: scripts/build tandem)" >&2; exit 1; }
[[ -f $model ]] || { echo "no model file at $model" >&2; exit 1; }

venv=$repo/.venv-clients
req=bench/clients/requirements.txt
if ! cmp -s "$req" "$venv/.requirements.txt" 2>/dev/null; then
  echo "[clients] installing $(grep -v '^#' "$req" | tr '\n' ' ')into $venv" >&2
  [[ -x $venv/bin/python ]] || "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$req" >&2
  cp "$req" "$venv/.requirements.txt"
fi

out=${OUT:-bench/clients/out-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
echo "[clients] commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), binary $(realpath "$bin"), model $model, results in $out" >&2
exec "$venv/bin/python" bench/clients/clients.py --tandem "$(realpath "$bin")" --model "$(realpath "$model")" \
  --out "$out" "$@"
