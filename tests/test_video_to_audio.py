"""Video-to-audio on the tiny demo components: the frozen video stream has sigma 0 (scalar and per token) in every
transformer call and ends exactly at its encoded latent, the returned frames are the given ones, the audio lasts
frames / fps to the sample, any frame count works (padded for the encoder only), and bad input gets one line;
the CLI writes the given frames (re-encoded as they are) with the new audio."""

import dataclasses

import pytest
import torch
from _av_checks import check_av_mp4

from ltx2_core.errors import InputError
from ltx2_core.pipeline.conditioning import FrozenVideo, initial_video_state
from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components
from ltx2_core.pipeline.latents import latent_shape
from ltx2_core.pipeline.video_to_audio import VideoClip, encode_clip, padded_frames, video_to_audio

STEPS = 3


@pytest.fixture(scope="module")
def parts():
    return demo_components(seed=1, encoders=True)


def _pixels(frames, height=64, width=96, seed=0):
    return torch.rand(3, frames, height, width, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _watch(parts):
    """Record (video sigma, video timesteps, audio sigma) of every transformer call."""
    calls = []

    def hook(module, args):
        video, audio = args[0], args[1]
        calls.append((video.sigma.clone(), video.timesteps.clone(), audio.sigma.clone()))

    return calls, parts.transformer.register_forward_pre_hook(hook)


def test_frozen_video_sigma_is_zero_in_every_step(parts):
    clip = VideoClip(_pixels(9), 24.0)
    calls, handle = _watch(parts)
    try:
        result = video_to_audio(parts, "rain", clip, steps=STEPS, guidance=DEMO_GUIDANCE, seed=3)
    finally:
        handle.remove()
    assert len(calls) >= STEPS  # guidance passes may add calls per step; one call per step at least
    audio_sigmas = sorted({round(float(a[0]), 6) for _, _, a in calls}, reverse=True)
    assert len(audio_sigmas) == STEPS and audio_sigmas[0] == 1.0  # the audio follows the schedule...
    for video_sigma, video_timesteps, _ in calls:  # ...the frozen video never leaves sigma 0
        assert torch.count_nonzero(video_sigma) == 0 and torch.count_nonzero(video_timesteps) == 0
    encoded = encode_clip(clip, parts.video_vae)
    assert torch.equal(result.video_latent, encoded.to(result.video_latent.dtype))  # never denoised


def test_output_is_the_given_frames_and_the_audio_lasts_the_video(parts):
    pixels = _pixels(12)  # not 8k+1: padded to 17 for the encoder only
    result = video_to_audio(parts, "rain", VideoClip(pixels, 25.0), steps=2, guidance=DEMO_GUIDANCE, seed=3)
    assert result.video is pixels and result.fps == 25.0
    assert result.audio.shape == (2, round(12 / 25.0 * result.sample_rate))  # 11520 samples at 24 kHz
    assert result.info["encoded_frames"] == 17 and result.video_latent.shape[2] == 3
    assert result.audio_latent.shape[2] == round(12 / 25.0 * 25)  # the clip's duration, not the padded one
    assert float(result.audio.abs().max()) > 0
    other = video_to_audio(parts, "rain", VideoClip(_pixels(12, seed=5), 25.0), steps=2, guidance=DEMO_GUIDANCE,
                           seed=3)
    assert not torch.equal(other.audio, result.audio)  # the audio follows the video


def test_padding_and_encode_size(parts):
    assert [padded_frames(n) for n in (1, 2, 9, 10, 16, 17)] == [1, 9, 9, 17, 17, 17]
    pixels = _pixels(10, height=70, width=100)
    latent = encode_clip(VideoClip(pixels, 24.0), parts.video_vae)  # 100x70 -> 96x64, 10 -> 17 frames
    padded = torch.cat([pixels, pixels[:, -1:].expand(-1, 7, -1, -1)], dim=1)
    from ltx2_core.pipeline.video_io import resize_cover

    torch.testing.assert_close(latent, parts.video_vae.encode(resize_cover(padded, 96, 64)[None]))
    assert encode_clip(VideoClip(pixels, 24.0), parts.video_vae, width=64, height=32).shape[3:] == (1, 2)


def test_bad_input_one_line(parts):
    clip = VideoClip(_pixels(9), 24.0)
    cases = [
        (lambda: video_to_audio(dataclasses.replace(parts, video_vae=None), "p", clip),
         "Video-to-audio needs the video VAE"),
        (lambda: video_to_audio(dataclasses.replace(parts, vocoder=None), "p", clip), "needs the audio VAE"),
        (lambda: video_to_audio(parts, "p", _pixels(9)), "video must be a VideoClip"),
        (lambda: VideoClip(_pixels(9)[0], 24.0), r"must be \(3, F, H, W\)"),
        (lambda: VideoClip(_pixels(9) * 3, 24.0), r"The video pixels span .* outside -1..1"),
        (lambda: VideoClip(_pixels(9), 0.0), "fps"),
        (lambda: encode_clip(clip, parts.video_vae, width=50, height=64), "width 50 is not a multiple of 32"),
    ]
    for make, message in cases:
        with pytest.raises(InputError, match=message) as info:
            make()
        assert "\n" not in str(info.value)
    shape = latent_shape(96, 64, 17, 24.0, video_channels=16)
    state = initial_video_state(shape, 24.0)
    with pytest.raises(InputError, match="has 2 latent frames but the generation has 3"):
        FrozenVideo(torch.zeros(1, 16, 2, 2, 3)).apply(state, shape, 24.0)
    with pytest.raises(InputError, match="does not fit the video latent"):
        FrozenVideo(torch.zeros(1, 16, 3, 2, 2)).apply(state, shape, 24.0)


def _decode(path):
    import av

    with av.open(path) as container:
        return torch.stack([torch.from_numpy(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)])


def test_cli_writes_the_given_frames_with_new_audio(tmp_path, capsys):
    from ltx2_core.__main__ import main
    from ltx2_core.pipeline.demo import save_demo_checkpoint
    from ltx2_core.pipeline.video_io import read_video, write_mp4

    paths = save_demo_checkpoint(demo_components(encoders=True), str(tmp_path / "models"))
    y, x = torch.meshgrid(torch.arange(64), torch.arange(96), indexing="ij")
    smooth = torch.stack([torch.stack([(x + 2 * t) / 127.0, y / 63.0, (x + y) / 160.0]) for t in range(12)], 1) * 2 - 1
    source = write_mp4(str(tmp_path / "in.mp4"), smooth.clamp(-1, 1), 25.0)
    out = str(tmp_path / "out.mp4")
    base = ["generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"], "--prompt",
            "rain", "--out", out, "--steps", "2", "--stg-blocks", "1", "--dtype", "float32", "--device", "cpu"]
    assert main(base + ["--video", source]) == 0
    captured = capsys.readouterr()
    assert "12 frames are encoded as 17" in captured.err and "Wrote" in captured.out
    measured = check_av_mp4(out, 12, 25.0)  # sample-exact audio: round(12 / 25 * rate)
    _, fps = read_video(out)
    error = (_decode(out).float() - _decode(source).float()).abs().mean()
    assert fps == 25.0 and error < 2.0, error  # the input's frames within the codec's error (levels of 255)
    assert measured["audio_samples"] == round(12 / 25 * 24000)
    for extra, message in [
        (["--video", source, "--audio-only"], "error: --video cannot be combined with --audio-only"),
        (["--video", source, "--image", source], "error: --video cannot be combined with --image"),
        (["--video", source, "--batch-size", "2"], "error: --video makes one soundtrack per run"),
        (["--video", str(tmp_path / "missing.mp4")], "error: Video file not found"),
    ]:
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(message) and "\n" not in err, err
