#!/usr/bin/env bash
# Builds one CPU ComfyUI test host for the integration tests under .comfyui/<tag>/ (gitignored):
#   .comfyui/<tag>/ComfyUI  ComfyUI source of that version
#   .comfyui/<tag>/venv     Python 3.11 venv, torch==2.13.0 CPU; every install constrained to it.
# usage: scripts/setup_comfyui.sh [v0.3.64|v0.8.0]   (default v0.3.64)
# Sources (local git repositories, bare or not; the script never downloads ComfyUI):
#   v0.3.64  $COMFYUI_GIT_DIR_V0_3_64, default /work/.mirror/Comfy-Org+ComfyUI/repo (HEAD)
#   v0.8.0   $COMFYUI_GIT_DIR_V0_8_0,  default /work/.mirror/pollockjj+ComfyUI/repo (HEAD)
# Without the source it exits 3 saying why (the integration tests for that host then do not run).
# Idempotent: when the stamp matches this script and the host imports, it exits in about a second.
# Prints the ComfyUI source directory (for COMFYUI_PATHS) on its last line.
# Environment: PYTHON  interpreter for the venv (default python3.11; 3.12 would pull a CUDA torch).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TAG=${1:-v0.3.64}
case "$TAG" in
  v0.3.64) GIT_DIR_SRC=${COMFYUI_GIT_DIR_V0_3_64:-/work/.mirror/Comfy-Org+ComfyUI/repo} ;;
  v0.8.0) GIT_DIR_SRC=${COMFYUI_GIT_DIR_V0_8_0:-/work/.mirror/pollockjj+ComfyUI/repo} ;;
  *) echo "Unknown ComfyUI host '$TAG': use v0.3.64 or v0.8.0." >&2; exit 2 ;;
esac
HOST="$ROOT/.comfyui/$TAG"
SRC_VAR="COMFYUI_GIT_DIR_$(echo "${TAG^^}" | tr . _)"
SRC="$HOST/ComfyUI"
V="$HOST/venv"
PY=${PYTHON:-python3.11}
STAMP="$HOST/.ready"
WANT="$(sha256sum "$0" | cut -c1-16)"
export PIP_DISABLE_PIP_VERSION_CHECK=1

host_ok() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$SRC/main.py" ] && \
    "$V/bin/python" -c "import torch, torchvision, torchaudio, aiohttp, av, gguf" >/dev/null 2>&1
}
if host_ok; then echo "ComfyUI $TAG host already built"; echo "$SRC"; exit 0; fi

# 1. ComfyUI source, checked to be the version asked for.
if [ ! -f "$SRC/main.py" ]; then
  if ! git --git-dir="$GIT_DIR_SRC" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "No ComfyUI $TAG source at $GIT_DIR_SRC (set $SRC_VAR to a local ComfyUI git"\
         "repository): the $TAG integration tests cannot run." >&2
    exit 3
  fi
  mkdir -p "$HOST"
  rm -rf "$SRC.tmp"; mkdir -p "$SRC.tmp"
  # A partial mirror may lack a few large blobs (unused tokenizer JSON): leave those files out.
  EXCL=()
  while read -r _ _ h p; do
    git --git-dir="$GIT_DIR_SRC" cat-file -e "$h" 2>/dev/null || EXCL+=(":(exclude)$p")
  done < <(git --git-dir="$GIT_DIR_SRC" ls-tree -r HEAD)
  git --git-dir="$GIT_DIR_SRC" archive HEAD -- . "${EXCL[@]}" | tar -x -C "$SRC.tmp"
  FOUND=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$SRC.tmp/comfyui_version.py" 2>/dev/null || true)
  if [ "v$FOUND" != "$TAG" ]; then
    rm -rf "$SRC.tmp"
    echo "$GIT_DIR_SRC holds ComfyUI '${FOUND:-unknown}', not $TAG: point $SRC_VAR at a $TAG source." >&2
    exit 3
  fi
  rm -rf "$SRC"; mv "$SRC.tmp" "$SRC"
fi

# 2. venv with the CPU torch first, then everything else pinned to it.
[ -x "$V/bin/python" ] || "$PY" -m venv "$V"
P="$V/bin/pip"
PIN="$HOST/torch-pin.txt"
echo "torch==2.13.0" > "$PIN"
"$P" install -q -c "$PIN" torch==2.13.0
# ComfyUI's requirements without torch/torchvision/torchaudio/spandrel (they resolve to a CUDA torch), plus
# requests (imported by app/frontend_management.py but not listed) and the pack's own runtime deps.
# comfy-kitchen (0.8.0) declares no torch dependency; it is installed like the rest, under the pin.
grep -v -E '^(torch|torchvision|torchaudio|spandrel)\s*$' "$SRC/requirements.txt" > "$HOST/requirements-host.txt"
"$P" install -q -c "$PIN" -r "$HOST/requirements-host.txt" requests gguf -r "$ROOT/requirements.txt"
# torchvision 0.28.0 pins torch 2.13.0; spandrel/torchaudio without deps so they cannot replace torch.
"$P" install -q -c "$PIN" torchvision==0.28.0
"$P" install -q --no-deps torchaudio==2.11.0 spandrel==0.4.2
# Ray (pulls no torch) for the optional LTX2 Parallel Workers node and its integration test.
"$P" install -q -c "$PIN" ray==2.60.0
SP="$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# torchaudio's native libs are CUDA-linked: without them it imports as pure Python (resample, MelSpectrogram work).
rm -f "$SP"/torchaudio/lib/*.so
# torchvision's CUDA-linked _C is unusable here; its fake-kernel registrations for nms/qnms assume the native
# ops exist. Make them conditional on the op being registered (transforms, the only part ComfyUI needs, work).
"$V/bin/python" - "$SP/torchvision/_meta_registrations.py" <<'EOF'
import re, sys
path = sys.argv[1]
src = open(path).read()
pat = re.compile(r'^@torch\.library\.register_fake\("torchvision::(nms|qnms)"\)\n', re.M)
new = pat.sub(lambda m: f'@(torch.library.register_fake("torchvision::{m.group(1)}") '
              f'if hasattr(torch.ops.torchvision, "{m.group(1)}") else (lambda f: f))\n', src)
if new != src:
    open(path, "w").write(new)
EOF
"$V/bin/python" -c "import torch, torchvision, torchaudio, spandrel, aiohttp, av, gguf; \
assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$WANT" > "$STAMP"
echo "ComfyUI $TAG host built"
echo "$SRC"
