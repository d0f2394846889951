"""Latent geometry, one-line InputErrors for bad arguments, conditioning checks, mp4 writing."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.pipeline.conditioning import Keyframe, ReplaceFrames, initial_video_state
from ltx2_core.pipeline.latents import latent_shape, validate_file


def test_token_math_of_the_default_stages():
    stage1 = latent_shape(768, 512, 121, 24.0)
    assert stage1.video == (1, 128, 16, 16, 24) and stage1.video_tokens == 6144 and stage1.audio_tokens == 126
    stage2 = latent_shape(1536, 1024, 121, 24.0)
    assert stage2.video_tokens == 24576 and stage2.audio == (1, 8, 126, 16)


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=770, height=512, frames=121),
     r"width 770 is not a multiple of 32: use a multiple of 32 such as 768 or 800"),
    (dict(width=768, height=500, frames=121), r"height 500 .* 480 or 512"),
    (dict(width=768, height=512, frames=120), r"frames 120 is not of the form 8k\+1: use 113 or 121"),
    (dict(width=768, height=512, frames=0), r"frames 0 .* use 1 or 9"),
])
def test_bad_sizes_give_one_line_errors(kwargs, match):
    with pytest.raises(InputError, match=match) as info:
        latent_shape(fps=24.0, **kwargs)
    assert "\n" not in str(info.value)


def test_conditioning_errors_say_what_to_change(tmp_path):
    shape = latent_shape(64, 64, 17, 24.0, video_channels=4)
    state = initial_video_state(shape, 24.0)
    image = torch.zeros(1, 4, 1, 2, 2)
    with pytest.raises(InputError, match=r"Keyframe index 17 is out of range: use 0..16"):
        Keyframe(image, 17).apply(state, shape, 24.0)
    with pytest.raises(InputError, match=r"use 0..8 for a 9-frame keyframe"):
        Keyframe(torch.zeros(1, 4, 2, 2, 2), 9).apply(state, shape, 24.0)
    with pytest.raises(InputError, match="strength"):
        ReplaceFrames(image, strength=1.5).apply(state, shape, 24.0)
    with pytest.raises(InputError, match="generation size"):
        ReplaceFrames(torch.zeros(1, 4, 1, 3, 2)).apply(state, shape, 24.0)
    with pytest.raises(InputError, match="latent frames"):
        ReplaceFrames(torch.zeros(1, 4, 4, 2, 2)).apply(state, shape, 24.0)
    with pytest.raises(InputError, match="not found"):
        validate_file(str(tmp_path / "nope.png"), "Image")


def test_media_roundtrip(tmp_path):
    import av

    from ltx2_core.pipeline.video_io import h264_roundtrip, read_audio, read_video, write_mp4, write_wav

    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(-0.8, 0.8, 64).view(1, 1, 1, 64).expand(3, 9, 48, 64).clone()
    path = write_mp4(str(tmp_path / "a.mp4"), ramp, 25.0, torch.randn(2, 30000, generator=gen) * 0.1, 16000)
    pixels, fps = read_video(path)
    assert pixels.shape == (3, 9, 48, 64) and fps == 25.0 and (pixels - ramp).abs().mean() < 0.05
    wave = read_audio(path, 16000, channels=1)
    assert wave.shape[0] == 1 and abs(wave.shape[1] - round(9 / 25 * 16000)) <= 1024
    wav = write_wav(str(tmp_path / "a.wav"), torch.sin(torch.arange(800) / 10.0) * 0.5, 8000)
    assert read_audio(wav, 8000, channels=1).shape == (1, 800)
    image = torch.rand(3, 1, 33, 47, generator=gen) * 2 - 1
    squeezed = h264_roundtrip(image, 33)
    assert squeezed.shape == image.shape and 0 < (squeezed - image).abs().mean() < 0.5
    assert torch.equal(h264_roundtrip(image, 0), image)
    with pytest.raises(InputError, match="not found"):
        read_video(str(tmp_path / "missing.png"))
    with av.open(path) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]


@pytest.mark.parametrize("fps, rate", [(24.0, 24000), (25.0, 16000), (30000 / 1001, 48000)])
def test_mp4_durations_are_exact_whatever_the_frames_show(tmp_path, fps, rate):
    """Flat frames (x264 codes them as skips) and noise (every frame expensive) give the same timing:
    17 frames at i / fps, the audio exactly round(17 / fps * rate) samples (`_av_checks`)."""
    from _av_checks import check_av_mp4

    from ltx2_core.pipeline.video_io import write_mp4

    gen = torch.Generator().manual_seed(1)
    audio = torch.randn(2, rate, generator=gen) * 0.1  # longer than the clip: cut to its length
    contents = {"flat": torch.zeros(3, 17, 64, 96), "noise": torch.rand(3, 17, 64, 96, generator=gen) * 2 - 1}
    measured = {name: check_av_mp4(write_mp4(str(tmp_path / f"{name}.mp4"), video, fps, audio, rate), 17, fps, rate)
                for name, video in contents.items()}
    assert measured["flat"] == measured["noise"]
    assert measured["flat"]["audio_samples"] == round(17 / fps * rate)
