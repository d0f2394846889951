#!/usr/bin/env bash
# Creates .venv with the pack's runtime deps; with --dev also pytest and the reference oracles.
# Every install is constrained to torch==2.13.0 (the local CPU wheel), so no CUDA build is pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
P=".venv/bin/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
$P install -q -c constraints.txt torch==2.13.0
$P install -q -c constraints.txt -r requirements.txt
if [ "${1:-}" = "--dev" ]; then
  $P install -q -c constraints.txt -r requirements-dev.txt
  # Oracles are installed without their own deps (they would pull CUDA torch / torchaudio builds).
  $P install -q --no-deps ltx-core==1.0.0 ltx-pipelines==1.0.0 diffusers==0.42.1 torchaudio==2.11.0 ltx-video==0.1.2
  # torchaudio 2.11's native libs are CUDA-linked; without them it imports as pure Python (enough for the oracles).
  rm -f .venv/lib/python3.11/site-packages/torchaudio/lib/*.so
fi
