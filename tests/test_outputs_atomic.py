"""Outputs are written atomically: an interrupted (SIGINT) or failed write leaves the old file byte-identical
and no temporary file; every accepted extension writes a playable file; the converter checks its paths
before reading its input."""

import os
import signal
import subprocess
import sys
import time

import av
import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.atomic import atomic_output, temp_prefix
from ltx2_core.errors import InputError, LTX2Error
from ltx2_core.pipeline.video_io import fit_audio, read_audio_as_given, write_audio, write_mp4, write_video

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OLD = b"an older clip that must survive" * 100


def _old_file(folder, name="clip.mp4"):
    path = folder / name
    path.write_bytes(OLD)
    return path


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_output_keeps_the_old_file_on_any_exception(tmp_path, error):
    path = _old_file(tmp_path)
    with pytest.raises(error):
        with atomic_output(str(path)) as temp:
            assert os.path.dirname(temp) == str(tmp_path) and temp.endswith(".mp4")
            with open(temp, "wb") as handle:
                handle.write(b"half a file")
            raise error()
    assert path.read_bytes() == OLD and os.listdir(tmp_path) == ["clip.mp4"]


def test_atomic_output_replaces_on_success_and_keeps_permissions(tmp_path):
    path = _old_file(tmp_path)
    os.chmod(path, 0o640)
    with atomic_output(str(path)) as temp:
        with open(temp, "wb") as handle:
            handle.write(b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["clip.mp4"]
    assert os.stat(path).st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.wav"
    with atomic_output(str(fresh)) as temp:
        open(temp, "wb").close()
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(fresh).st_mode & 0o777 == 0o666 & ~umask  # as a plain open() would create it


def test_missing_output_folder_is_one_clear_error_and_creates_nothing(tmp_path):
    video, wave = torch.zeros(3, 9, 32, 32), torch.zeros(1, 100)
    writers = [(lambda p: write_mp4(p, video, 24.0, wave, 16000), "clip.mp4"),
               (lambda p: write_video(p, video, 24.0), "clip.webm"), (lambda p: write_audio(p, wave, 16000), "a.wav"),
               (lambda p: write_audio(p, wave, 16000), "a.flac")]
    for write, name in writers:
        with pytest.raises(InputError, match="Output folder does not exist: .*missing'. Create it"):
            write(str(tmp_path / "missing" / name))
    assert os.listdir(tmp_path) == []


CHILD = """
import sys, torch
from ltx2_core.pipeline.video_io import write_video
video = torch.rand(3, 2000, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
write_video(sys.argv[1], video, 24.0, torch.zeros(2, 2000 * 1000), 24000)
print("finished")
"""


def test_sigint_during_encoding_leaves_the_old_file_and_no_temp_file(tmp_path):
    """The child encodes a long clip (seconds); SIGINT is sent once encoded bytes reach its temporary file,
    i.e. in the middle of encoding."""
    path = _old_file(tmp_path)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    prefix, deadline, seen = temp_prefix(str(path)), time.time() + 120, None
    try:
        while time.time() < deadline and child.poll() is None and seen is None:
            temps = [n for n in os.listdir(tmp_path) if n.startswith(prefix)]
            if temps and os.path.getsize(tmp_path / temps[0]) > 0:
                seen = temps[0]
            time.sleep(0.01)
        assert seen is not None and child.poll() is None, "the child never started writing"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert "finished" not in out and "KeyboardInterrupt" in err
    assert child.returncode == -signal.SIGINT
    assert path.read_bytes() == OLD and os.listdir(tmp_path) == ["clip.mp4"]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = _old_file(tmp_path)
    with pytest.raises(av.error.FFmpegError):  # the encoder refuses the option once the file is open
        write_video(str(path), torch.zeros(3, 9, 32, 32), 24.0, crf=-50)
    assert path.read_bytes() == OLD and os.listdir(tmp_path) == ["clip.mp4"]
    with pytest.raises(LTX2Error, match="The video to write: NaN/Inf values"):
        write_video(str(path), torch.full((3, 9, 32, 32), float("nan")), 24.0)
    assert path.read_bytes() == OLD and os.listdir(tmp_path) == ["clip.mp4"]


def _streams(path):
    with av.open(path) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = sum(1 for _ in container.decode(video=0))
        return (len(container.streams), frames, video.codec_context.name, audio.codec_context.name,
                audio.codec_context.channels, audio.duration and float(audio.duration * audio.time_base))


@pytest.mark.parametrize("extension, vcodec, acodec", [(".mp4", "h264", "aac"), (".mkv", "h264", "aac"),
                                                       (".webm", "vp9", "opus")])
def test_every_video_extension_writes_one_video_and_one_audio_stream(tmp_path, extension, vcodec, acodec):
    path = str(tmp_path / f"clip{extension}")
    write_video(path, torch.rand(3, 17, 64, 96) * 2 - 1, 24.0, torch.randn(1, 9000) * 0.1, 16000)
    count, frames, got_v, got_a, channels, _ = _streams(path)
    assert (count, frames, got_v, got_a, channels) == (2, 17, vcodec, acodec, 1)
    assert os.listdir(tmp_path) == [f"clip{extension}"]


@pytest.mark.parametrize("rate, frames, fps", [(16000, 9, 25.0), (44100, 17, 24.0), (48000, 25, 30.0)])
def test_mp4_audio_lasts_exactly_the_video(tmp_path, rate, frames, fps):
    """fit_audio gives exactly round(F / fps * rate) samples; the mp4 audio track (priming cut by the edit
    list) lasts F / fps within the movie timescale's 1 ms, whatever the audio length given."""
    target = round(frames / fps * rate)
    for given in (target // 2, target * 3):
        wave = torch.randn(2, given) * 0.1
        fitted = fit_audio(wave, frames, fps, rate)
        assert fitted.shape == (2, target)
        keep = min(given, target)
        assert torch.equal(fitted[:, :keep], wave[:, :keep]) and not fitted[:, keep:].any()
        path = str(tmp_path / "a.mp4")
        write_mp4(path, torch.zeros(3, frames, 32, 32), fps, wave, rate)
        count, decoded, _, _, channels, seconds = _streams(path)
        assert (count, decoded, channels) == (2, frames, 2)
        assert abs(seconds - frames / fps) <= 1e-3 + 1e-9


def test_audio_only_outputs_are_exact(tmp_path):
    wave = (torch.rand(2, 12345) * 2 - 1) * 0.5
    for name in ("a.wav", "a.flac"):
        write_audio(str(tmp_path / name), wave, 44100)
        back, rate = read_audio_as_given(str(tmp_path / name))
        assert rate == 44100 and back.shape == (2, 12345)
        assert (back - wave).abs().max() < 1 / 32767 + 1e-6  # 16-bit PCM
    with pytest.raises(InputError, match="use a file name ending in .wav or .flac"):
        write_audio(str(tmp_path / "a.mp3"), wave, 44100)
    assert sorted(os.listdir(tmp_path)) == ["a.flac", "a.wav"]


def test_converter_checks_paths_before_reading_and_errors_are_one_line(tmp_path, capsys):
    from ltx2_core.convert import main

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 64)  # reading it would fail with a different message
    existing = _old_file(tmp_path, "out.gguf")
    cases = [
        ([str(junk), str(existing)], f"error: {existing} exists: use --force to overwrite it"),
        ([str(junk), str(tmp_path / "nowhere" / "x.gguf")], "error: Output folder does not exist"),
        ([str(junk), str(tmp_path / "x.safetensors")], "cannot hold a GGUF file: use a file name ending in .gguf"),
        ([str(tmp_path / "missing.safetensors"), str(tmp_path / "x.gguf")], "error: Input not found"),
        ([str(junk), str(tmp_path / "x.gguf")], "error: "),
    ]
    for args, expected in cases:
        assert main(args) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert existing.read_bytes() == OLD and sorted(os.listdir(tmp_path)) == ["junk.safetensors", "out.gguf"]


def test_interrupted_conversion_leaves_the_old_output(tmp_path):
    from ltx2_core.convert import convert

    src = tmp_path / "model.safetensors"
    save_file({"transformer_blocks.0.attn1.to_q.weight": torch.randn(64, 64),
               "transformer_blocks.0.attn1.to_k.weight": torch.randn(64, 64),
               "adaln_single.linear.weight": torch.randn(64, 64)}, str(src))
    dst = _old_file(tmp_path, "model.gguf")

    def stop(line):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert(str(src), str(dst), "Q8_0", log=stop)  # interrupted after the first tensor
    assert dst.read_bytes() == OLD and sorted(os.listdir(tmp_path)) == ["model.gguf", "model.safetensors"]
    convert(str(src), str(dst), "Q8_0")
    assert dst.read_bytes()[:4] == b"GGUF" and sorted(os.listdir(tmp_path)) == ["model.gguf", "model.safetensors"]


def test_ctrl_c_in_the_cli_exits_130_and_keeps_the_old_file(tmp_path):
    """`demo` interrupted after its first denoising step (read from its progress bar): exit status 130, a
    one-line notice, the old output untouched."""
    path = _old_file(tmp_path)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-m", "ltx2_core", "demo", "--out", str(path), "--steps", "1000",
                              "--width", "64", "--height", "64", "--frames", "9"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    seen, deadline = b"", time.time() + 120
    try:
        while b"step 1/1000" not in seen and time.time() < deadline and child.poll() is None:
            seen += os.read(child.stderr.fileno(), 4096)
        assert b"step 1/1000" in seen, seen
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130 and err.decode().strip().splitlines()[-1] == "interrupted"
    assert b"Wrote" not in out and path.read_bytes() == OLD and os.listdir(tmp_path) == ["clip.mp4"]
