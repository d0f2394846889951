#!/usr/bin/env bash
# Builds a CPU ComfyUI test host for the integration tests under .comfyui/ (gitignored):
#   .comfyui/ComfyUI  ComfyUI source (v0.3.64 by default)
#   .comfyui/venv     Python 3.11 venv, torch==2.13.0 CPU; every install constrained to it.
# Idempotent: when the stamp matches this script and the host imports, it exits in about a second.
# Prints the path to use as COMFYUI_PATH on its last line.
# Environment:
#   COMFYUI_GIT_DIR  a local git repository (bare or not) holding ComfyUI source; default: the local mirror.
#                    Without one the script exits non-zero and the integration tests skip (it never downloads).
#   COMFYUI_REF      commit/tag to extract (default HEAD).
#   PYTHON           interpreter for the venv (default python3.11; 3.12 would pull a CUDA torch).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOST="$ROOT/.comfyui"
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
if host_ok; then echo "ComfyUI host already built"; echo "$SRC"; exit 0; fi
mkdir -p "$HOST"

# 1. ComfyUI source.
if [ ! -f "$SRC/main.py" ]; then
  GIT_DIR_SRC=${COMFYUI_GIT_DIR:-/work/.mirror/Comfy-Org+ComfyUI/repo}
  rm -rf "$SRC.tmp"; mkdir -p "$SRC.tmp"
  if [ -d "$GIT_DIR_SRC" ]; then
    REF=${COMFYUI_REF:-HEAD}
    # A partial mirror may lack a few large blobs (unused tokenizer JSON): leave those files out.
    EXCL=()
    while read -r _ _ h p; do
      git --git-dir="$GIT_DIR_SRC" cat-file -e "$h" 2>/dev/null || EXCL+=(":(exclude)$p")
    done < <(git --git-dir="$GIT_DIR_SRC" ls-tree -r "$REF")
    git --git-dir="$GIT_DIR_SRC" archive "$REF" -- . "${EXCL[@]}" | tar -x -C "$SRC.tmp"
  else
    rm -rf "$SRC.tmp"
    echo "No ComfyUI source found (set COMFYUI_GIT_DIR to a local ComfyUI git repository, or COMFYUI_PATH to a"\
         "built host): the integration tests will skip." >&2
    exit 1
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
grep -v -E '^(torch|torchvision|torchaudio|spandrel)\s*$' "$SRC/requirements.txt" > "$HOST/requirements-host.txt"
"$P" install -q -c "$PIN" -r "$HOST/requirements-host.txt" requests gguf -r "$ROOT/requirements.txt"
# torchvision 0.28.0 pins torch 2.13.0; spandrel/torchaudio without deps so they cannot replace torch.
"$P" install -q -c "$PIN" torchvision==0.28.0
"$P" install -q --no-deps torchaudio==2.11.0 spandrel==0.4.2
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
echo "ComfyUI host built"
echo "$SRC"
