"""Peak resident memory of a long clip by extension (`--long extend`) against its length, on the tiny model.

    python -m benchmarks.long_clips [--seconds 10 60] [--size 128] [--window-frames 121] [--overlap-frames 25]
                                    [--whole]

Every length runs in a fresh child process (large allocations through mmap, so freed memory really goes back):
build the demo model, generate the clip segment by segment, write it to an mp4 as it goes
(`extend.write_segments`). Reported: the process's peak RSS (VmHWM), its RSS once the model is built, their
difference, and the wall time. With streaming output the peak must not grow with the clip's length.
`--whole` is the reference without streaming: the segments are concatenated and written at the end
(`video_io.write_video`), so the whole clip is in memory once.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.memory import MMAP_ENV, status_kib


def _write_whole(path: str, segments) -> tuple:
    """The clip assembled in memory, then written in one go (what streaming avoids)."""
    import torch

    from ltx2_core.pipeline.video_io import write_video

    pieces = list(segments)
    video = torch.cat([s.video for s in pieces], dim=1)
    audio = torch.cat([s.audio for s in pieces], dim=1)
    write_video(path, video, pieces[0].fps, audio, pieces[0].sample_rate)
    return video.shape[1], audio.shape[1]


def _child(seconds: float, size: int, window: int, overlap: int, fps: float, whole: bool) -> dict:
    from ltx2_core.pipeline.demo import demo_components
    from ltx2_core.pipeline.duration import frames_for_seconds
    from ltx2_core.pipeline.extend import generate_long, plan_segments, write_segments
    from ltx2_core.pipeline.guidance import NO_GUIDANCE

    parts = demo_components()
    frames = frames_for_seconds(seconds, fps)
    built = status_kib("VmRSS")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        segments = generate_long(parts, ["a fox"], frames=frames, segment_frames=window, overlap_frames=overlap,
                                 width=size, height=size, fps=fps, steps=1, guidance=NO_GUIDANCE)
        write = _write_whole if whole else write_segments
        written = write(os.path.join(folder, "long.mp4"), segments)
    return {"mode": "whole" if whole else "stream", "seconds": seconds, "frames": frames, "segments": len(plan_segments(frames, window, overlap)),
            "written": written, "wall_s": round(time.perf_counter() - start, 2),
            "model_rss_mib": round(built / 1024, 1), "peak_rss_mib": round(status_kib("VmHWM") / 1024, 1),
            "peak_above_model_mib": round((status_kib("VmHWM") - built) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--size", type=int, default=128, help="width = height in pixels (multiple of 32)")
    parser.add_argument("--window-frames", type=int, default=121)
    parser.add_argument("--overlap-frames", type=int, default=25)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--whole", action="store_true", help="reference: keep the clip in memory, write at the end")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        import torch

        torch.set_num_threads(2)
        print(json.dumps(_child(args.child, args.size, args.window_frames, args.overlap_frames, args.fps,
                                args.whole)))
        return
    env = dict(os.environ, **{MMAP_ENV: "65536"})
    rows = []
    for seconds in args.seconds:
        command = [sys.executable, "-m", "benchmarks.long_clips", "--child", str(seconds), "--size", str(args.size),
                   "--window-frames", str(args.window_frames), "--overlap-frames", str(args.overlap_frames),
                   "--fps", str(args.fps)] + (["--whole"] if args.whole else [])
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["peak_rss_mib"]
    for row in rows[1:]:
        print(f"{row['seconds']:g} s vs {rows[0]['seconds']:g} s: peak RSS x{row['peak_rss_mib'] / base:.3f} "
              f"({row['peak_rss_mib'] - base:+.1f} MiB)")


if __name__ == "__main__":
    main()
