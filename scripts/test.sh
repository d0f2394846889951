#!/usr/bin/env bash
# Sets up the dev environment and every ComfyUI host whose source it finds, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# The README's main command in a fresh clone of HEAD with the runtime requirements only (about a minute).
bash scripts/check_fresh_install.sh

# ComfyUI hosts for the integration tests (tests/integration run once per host). A host whose source is found
# must build and its tests must not skip (LTX2_EXPECTED_HOSTS); a host without source is skipped, said here.
# COMFYUI_PATHS / COMFYUI_PATH set by the caller are used as they are.
HOST_TAGS=(v0.3.64 v0.8.0)
if [ -z "${COMFYUI_PATHS:-}${COMFYUI_PATH:-}" ]; then
  paths=() found=() skipped=()
  for tag in "${HOST_TAGS[@]}"; do
    set +e
    out=$(bash scripts/setup_comfyui.sh "$tag" 2>&1)
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
      paths+=("$(printf '%s\n' "$out" | tail -n 1)") found+=("$tag")
    elif [ "$rc" -eq 3 ]; then
      skipped+=("$tag ($(printf '%s\n' "$out" | tail -n 1))")
    else
      printf '%s\n' "$out" >&2
      echo "ComfyUI host $tag: its source was found but the build failed (exit $rc)." >&2
      exit 1
    fi
  done
  echo "ComfyUI hosts found: ${found[*]:-none}"
  for s in "${skipped[@]}"; do echo "ComfyUI host skipped: $s"; done
  COMFYUI_PATHS=$(IFS=:; echo "${paths[*]:-}")
  export COMFYUI_PATHS
  export LTX2_EXPECTED_HOSTS="${found[*]:-}"
else
  echo "ComfyUI hosts given: ${COMFYUI_PATHS:-${COMFYUI_PATH:-}}"
fi

# Headless Chromium for tests/integration/test_frontend.py (Playwright drives /usr/bin/chromium; no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
      || echo "apt-get could not install chromium: the UI tests will skip"
  else
    echo "chromium not found and cannot be installed here: the UI tests will skip"
  fi
fi

# -rs: every skip is listed with its reason.
exec .venv/bin/python -m pytest -q -rs "$@"
