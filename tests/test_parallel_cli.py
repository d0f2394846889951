"""`torchrun -m ltx2_core generate --parallel ...` on the exported demo files: rank 0 alone writes the clip and
it matches the one-process clip (the VAE tiles decoded over the ranks); misuse gets one line and exit 2."""

import os
import subprocess
import sys

import av
import numpy as np
import pytest

from ltx2_core.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 3 latent frames of 1x5 tokens: 15 video tokens, not divisible by 2 ranks.
ARGS = ["--prompt", "a fox", "--width", "160", "--height", "32", "--frames", "17", "--steps", "3",
        "--dtype", "float32", "--device", "cpu"]


def _run(*args, cwd, torchrun=0, threads=None, module="ltx2_core", check=True):
    env = dict(os.environ, PYTHONPATH=ROOT, **({} if threads is None else {"OMP_NUM_THREADS": str(threads)}))
    launcher = ["-m", "torch.distributed.run", "--nproc-per-node", str(torchrun)] if torchrun else []
    proc = subprocess.run([sys.executable, *launcher, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _frames(path):
    with av.open(path) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]).astype(int)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    work = tmp_path_factory.mktemp("parallel_cli")
    proc = _run("demo", "--export", "models", cwd=work)
    written = dict(line[len("Wrote "):].split(": ", 1) for line in proc.stdout.splitlines() if line.startswith("Wrote "))
    return work, ["generate", "--checkpoint", written["checkpoint"], "--text-encoder", written["text_encoder"]]


# 64 px tiles, 16-frame chunks: 2 chunks x 4 tiles of the 3 x 1 x 5 latent, decoded over the ranks under torchrun.
TILED = ["--vae-tiling", "64,32,16,8"]


def test_torchrun_writes_once_and_matches_one_process(models):
    work, base = models
    # fsdp decodes tiled (the tiles shared by the ranks); sp+fsdp with the default plan (one tile at this size)
    for mode, tiling in (("fsdp", TILED), ("sp+fsdp", [])):
        one_out = f"one_{mode}.mp4"
        _run(*base, *tiling, *ARGS, "--out", one_out, cwd=work, threads=1)  # torchrun ranks run one thread each
        one = _frames(str(work / one_out))
        assert one.shape == (17, 32, 160, 3)
        out = f"{mode}.mp4"
        proc = _run(*base, *tiling, *ARGS, "--out", out, "--parallel", mode, cwd=work, torchrun=2)
        assert proc.stdout.count("Wrote ") == 1 and proc.stderr.count("step 3/3") == 1  # rank 0 only
        diff = np.abs(one - _frames(str(work / out)))
        # fsdp: the same latents (gathered weights, the same arithmetic); the one process decodes runs of equal
        # tiles batched, the ranks one at a time (pixels ~1e-5 apart, at most 1 level before encoding;
        # tests/test_parallel_vae.py checks the parallel decode exactly). sp+fsdp: latents agree to ~1e-5
        # (tests/test_parallel.py). H.264 of random-weight noise amplifies those 1-level flips (mean 2.9 levels
        # seen); a misplaced or missing tile differs by tens of levels.
        assert diff.mean() < 4.0
    assert not [name for name in os.listdir(work) if name.endswith(".tmp")]


def test_torchrun_sp_runs_a_gguf_transformer_and_fsdp_refuses_it(models):
    work, base = models
    checkpoint = base[base.index("--checkpoint") + 1]
    _run(checkpoint, "q8.gguf", "--type", "Q8_0", cwd=work, module="ltx2_core.convert")
    gguf = ["generate", "--checkpoint", "q8.gguf", "--video-vae", checkpoint, "--audio-vae", checkpoint,
            "--text-encoder", base[base.index("--text-encoder") + 1]]
    _run(*gguf, *ARGS, "--out", "gguf_one.mp4", cwd=work, threads=1)
    _run(*gguf, *ARGS, "--out", "gguf_sp.mp4", "--parallel", "sp", cwd=work, torchrun=2)
    one, two = _frames(str(work / "gguf_one.mp4")), _frames(str(work / "gguf_sp.mp4"))
    assert one.shape == two.shape == (17, 32, 160, 3) and np.abs(one - two).mean() < 2.0
    proc = _run(*gguf, *ARGS, "--out", "gguf_fsdp.mp4", "--parallel", "fsdp", cwd=work, torchrun=2, check=False)
    assert proc.returncode != 0 and "error: FSDP cannot shard GGUF" in proc.stderr
    assert not os.path.exists(work / "gguf_fsdp.mp4")


@pytest.mark.parametrize("extra, expected", [
    (["--parallel", "sp"], "error: --parallel needs several processes: start the command with `torchrun"),
    (["--offload-shards"], "error: --offload-shards needs --parallel fsdp or sp+fsdp."),
    (["--parallel", "sp", "--offload-shards"], "error: --offload-shards moves FSDP shards to the CPU"),
    (["--parallel", "fsdp", "--step-cache", "0.1"], "error: --step-cache is not supported with --parallel yet"),
    (["--vae-tiling", "64,32"], "error: --vae-tiling '64,32' is malformed: use TILE_PX,OVERLAP_PX,CHUNK_FRAMES"),
    (["--vae-tiling", "100,32,16,8"], "error: TilingConfig: tile_size_px must be a multiple of 32"),
])
def test_parallel_misuse_is_one_line_exit_2(models, capsys, monkeypatch, extra, expected):
    work, base = models
    monkeypatch.chdir(work)
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert main(base + ARGS + ["--out", "x.mp4"] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "\n" not in err


def test_torchrun_sp_runs_ltx_video(tmp_path):
    """An LTX-Video checkpoint under `--parallel sp+fsdp` (the LTX-Video sequence-parallel wrapper): rank 0 alone
    writes a clip that matches the one-process clip (tests/test_parallel_ltxv.py checks the latents exactly)."""
    proc = _run("demo", "--model", "ltx-video", "--export", "models", cwd=tmp_path)
    written = dict(line[len("Wrote "):].split(": ", 1) for line in proc.stdout.splitlines() if line.startswith("Wrote "))
    base = ["generate", "--checkpoint", written["checkpoint"], "--text-encoder", written["text_encoder"], *ARGS]
    _run(*base, "--out", "one.mp4", cwd=tmp_path, threads=1)
    proc = _run(*base, "--out", "sp.mp4", "--parallel", "sp+fsdp", cwd=tmp_path, torchrun=2)
    assert proc.stdout.count("Wrote ") == 1
    one, two = _frames(str(tmp_path / "one.mp4")), _frames(str(tmp_path / "sp.mp4"))
    assert one.shape == two.shape == (17, 32, 160, 3) and np.abs(one - two).mean() < 2.0
