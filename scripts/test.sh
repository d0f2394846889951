#!/usr/bin/env bash
# Sets up the dev environment (and a ComfyUI host when its source is available), then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# The README's main command in a fresh clone of HEAD with the runtime requirements only (about a minute).
bash scripts/check_fresh_install.sh
if [ -z "${COMFYUI_PATH:-}" ] && [ -f scripts/setup_comfyui.sh ]; then
  # Builds .comfyui/ (ComfyUI source + its own venv) when the ComfyUI source can be found; prints why not otherwise.
  if bash scripts/setup_comfyui.sh; then
    export COMFYUI_PATH="$PWD/.comfyui/ComfyUI"
  fi
fi
exec .venv/bin/python -m pytest -q "$@"
