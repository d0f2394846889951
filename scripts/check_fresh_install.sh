#!/usr/bin/env bash
# Fresh-install check: clones this checkout's HEAD into a temporary folder, runs the README's main command there
# exactly as the README writes it (so only the runtime requirements are installed), then checks the mp4 it wrote
# with PyAV: one video and one audio stream, both lasting frames / fps within one frame.
# Usage: bash scripts/check_fresh_install.sh   (exit 0 = the README's command works on a fresh clone)
# It checks the committed HEAD: uncommitted changes are not part of the clone.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ltx2-fresh.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

# The README's main command: the first line of the first bash block in "## Fresh machine".
COMMAND="$(awk '/^## Fresh machine/ {section=1; next} /^## / {section=0}
               section && /^```bash/ {block=1; next} block && /^```/ {exit}
               block && NF {print; exit}' "$ROOT/README.md")"
case "$COMMAND" in
  *"-m ltx2_core demo "*"--out "*) ;;
  *) echo "check_fresh_install: README.md's 'Fresh machine' section has no 'python -m ltx2_core demo --out ...'" \
          "command (found: '$COMMAND')" >&2
     exit 1 ;;
esac

git clone -q "$ROOT" "$WORK/repo"
echo "check_fresh_install: fresh clone of $(git -C "$WORK/repo" rev-parse --short HEAD) in $WORK/repo"
echo "check_fresh_install: running the README's command: $COMMAND"
(cd "$WORK/repo" && env -u PYTHONPATH -u VIRTUAL_ENV bash -c "$COMMAND")

# The CLI's own parser gives the clip's frames / fps and output path for exactly the options of that command.
ARGS="${COMMAND#*-m ltx2_core }"
cd "$WORK/repo"
env -u PYTHONPATH .venv/bin/python - "$ARGS" <<'EOF'
import shlex
import sys
from fractions import Fraction

import av

from ltx2_core.__main__ import DEMO_FRAMES, _build_parser

args = _build_parser().parse_args(shlex.split(sys.argv[1]))
args.frames = DEMO_FRAMES if args.frames is None else args.frames  # the demo's default length
expected, frame = Fraction(args.frames) / Fraction(args.fps), 1 / Fraction(args.fps)
problems = []
try:
    import google.protobuf  # noqa: F401
    problems.append("protobuf is installed: the runtime requirements must not need it")
except ImportError:
    pass
with av.open(args.out) as container:
    videos, audios = list(container.streams.video), list(container.streams.audio)
    print(f"check_fresh_install: {args.out}: {len(videos)} video stream(s), {len(audios)} audio stream(s), "
          f"expected {args.frames} frames at {args.fps} fps = {float(expected):.4f} s")
    if len(videos) != 1 or len(audios) != 1:
        problems.append(f"expected exactly one video and one audio stream, found {len(videos)} and {len(audios)}")
    for stream in videos[:1] + audios[:1]:
        seconds = Fraction(stream.duration) * stream.time_base if stream.duration is not None else None
        print(f"check_fresh_install:   {stream.type} {stream.codec_context.name}: "
              + (f"{float(seconds):.4f} s" if seconds is not None else "no duration"))
        if seconds is None or abs(seconds - expected) > frame:
            problems.append(f"{stream.type} lasts {seconds if seconds is None else float(seconds)} s, not "
                            f"{float(expected):.4f} s within one frame ({float(frame):.4f} s)")
    if videos:
        decoded = sum(1 for _ in container.decode(video=0))
        print(f"check_fresh_install:   {decoded} video frames decoded")
        if decoded != args.frames:
            problems.append(f"{decoded} video frames decoded, expected {args.frames}")
for problem in problems:
    print(f"check_fresh_install: FAILED: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
echo "check_fresh_install: OK in $(( $(date +%s) - start )) s"
