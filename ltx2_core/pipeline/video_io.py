"""Reading and writing media through PyAV: H.264 + AAC mp4 output, image / clip / audio input.

`write_mp4` trims or zero-pads the audio to exactly frames / fps seconds, so the two streams have
the same duration (up to AAC's 1024-sample framing, which is far below one video frame).
"""

import io
import os
from fractions import Fraction
from typing import Optional, Tuple

import numpy as np
import torch

from ..errors import InputError


def _to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """(3, F, H, W) or (1, 3, F, H, W) in [-1, 1] -> (F, H, W, 3) uint8."""
    if video.ndim == 5:
        if video.shape[0] != 1:
            raise InputError(f"write_mp4 takes one clip, got a batch of {video.shape[0]}: write them one by one.")
        video = video[0]
    if video.ndim != 4 or video.shape[0] != 3:
        raise InputError(f"Video must be (3, F, H, W) in [-1, 1], got shape {tuple(video.shape)}.")
    pixels = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(1, 2, 3, 0).cpu().numpy()  # (F, H, W, 3)


def write_mp4(
    path: str,
    video: torch.Tensor,
    fps: float,
    audio: Optional[torch.Tensor] = None,
    sample_rate: int = 24000,
    crf: int = 18,
    audio_bitrate: int = 128000,
) -> str:
    """Write an H.264 (yuv420p) mp4 with an optional AAC track; returns `path`.

    video: (3, F, H, W) or (1, 3, F, H, W) in [-1, 1]. audio: (channels, samples) or (samples,) in
    [-1, 1] at `sample_rate`, trimmed or zero-padded to F / fps seconds.
    """
    import av

    frames = _to_uint8_frames(video)
    count, height, width, _ = frames.shape
    if height % 2 or width % 2:
        raise InputError(f"H.264 needs even sizes, got {width}x{height}: use an even width and height.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"Output folder does not exist: {directory!r}. Create it or choose another path.")
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(path, mode="w", format="mp4") as container:
        vstream = container.add_stream("libx264", rate=rate)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"crf": str(crf)}
        astream = None
        if audio is not None:
            wave = audio.detach().float().cpu()
            wave = wave.unsqueeze(0) if wave.ndim == 1 else wave
            if wave.ndim != 2 or wave.shape[0] not in (1, 2):
                raise InputError(f"Audio must be (channels, samples) with 1 or 2 channels, got {tuple(wave.shape)}.")
            target = round(count / float(fps) * sample_rate)
            wave = torch.nn.functional.pad(wave, (0, max(0, target - wave.shape[1])))[:, :target]
            layout = "mono" if wave.shape[0] == 1 else "stereo"
            astream = container.add_stream("aac", rate=sample_rate, layout=layout)
            astream.bit_rate = audio_bitrate
        for image in frames:
            for packet in vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            samples = wave.clamp(-1, 1).numpy().astype(np.float32)  # (channels, samples)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout=layout)
            frame.sample_rate = sample_rate
            # Explicit timestamps let the encoder mark AAC's priming samples (negative pts), which the
            # muxer turns into an edit list: the audio track then lasts exactly F / fps seconds.
            frame.pts, frame.time_base = 0, Fraction(1, sample_rate)
            for packet in astream.encode(frame):
                container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


def read_video(path: str, max_frames: Optional[int] = None) -> Tuple[torch.Tensor, float]:
    """Decode an image or a video file to ((3, F, H, W) float in [-1, 1], fps)."""
    import av

    if not os.path.isfile(path):
        raise InputError(f"Input file not found: {path!r}. Check the path.")
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else 24.0
            images = []
            for frame in container.decode(stream):
                images.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(images) >= max_frames:
                    break
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(f"Cannot read {path!r} as an image or video ({exc}). Use a PNG, JPEG or MP4 file.") from None
    if not images:
        raise InputError(f"{path!r} has no video frames. Use a PNG, JPEG or MP4 file.")
    pixels = torch.from_numpy(np.stack(images)).permute(3, 0, 1, 2).float()  # (3, F, H, W)
    return pixels / 127.5 - 1.0, fps


def read_audio(path: str, sample_rate: int, channels: int = 2, max_seconds: Optional[float] = None) -> torch.Tensor:
    """Decode an audio (or video) file's audio to (channels, samples) float in [-1, 1] at `sample_rate`."""
    import av

    if not os.path.isfile(path):
        raise InputError(f"Audio file not found: {path!r}. Check the path.")
    layout = "mono" if channels == 1 else "stereo"
    chunks = []
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise InputError(f"{path!r} has no audio track. Use a WAV, MP3, FLAC or MP4 file with audio.")
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    except av.error.FFmpegError as exc:
        raise InputError(f"Cannot read audio from {path!r} ({exc}). Use a WAV, MP3, FLAC or MP4 file.") from None
    if not chunks:
        raise InputError(f"{path!r} has no audio samples.")
    wave = torch.from_numpy(np.concatenate(chunks, axis=1)).float()  # (channels, samples)
    if max_seconds is not None:
        wave = wave[:, : round(max_seconds * sample_rate)]
    return wave


def h264_roundtrip(pixels: torch.Tensor, crf: int = 33) -> torch.Tensor:
    """Encode each frame of (3, F, H, W) pixels in [-1, 1] as a one-frame H.264 video at `crf` and decode it
    again (the reference pipelines do this to conditioning images to mimic training compression).

    Odd sizes are cropped to even for the codec and the last row / column is restored from the input.
    """
    import av

    if crf <= 0:
        return pixels
    _, count, height, width = pixels.shape
    even_h, even_w = height - height % 2, width - width % 2
    if even_h == 0 or even_w == 0:
        return pixels
    frames = _to_uint8_frames(pixels[:, :, :even_h, :even_w])
    out = pixels.clone()
    for index, image in enumerate(frames):
        buffer = io.BytesIO()
        with av.open(buffer, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=1)
            stream.width, stream.height, stream.pix_fmt = even_w, even_h, "yuv420p"
            stream.options = {"crf": str(crf)}
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        buffer.seek(0)
        with av.open(buffer) as container:
            decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
        out[:, index, :even_h, :even_w] = torch.from_numpy(decoded).permute(2, 0, 1).float() / 127.5 - 1.0
    return out


def resize_cover(pixels: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Aspect-preserving bilinear resize that covers (width, height), then a center crop.

    pixels: (3, F, H, W) -> (3, F, height, width).
    """
    _, _, h, w = pixels.shape
    scale = max(height / h, width / w)
    new_h, new_w = max(height, int(np.ceil(h * scale))), max(width, int(np.ceil(w * scale)))
    frames = pixels.permute(1, 0, 2, 3)  # (F, 3, H, W)
    if (new_h, new_w) != (h, w):
        frames = torch.nn.functional.interpolate(frames, size=(new_h, new_w), mode="bilinear", align_corners=False)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return frames[:, :, top : top + height, left : left + width].permute(1, 0, 2, 3)


def write_wav(path: str, audio: torch.Tensor, sample_rate: int) -> str:
    """Write (channels, samples) or (samples,) float audio in [-1, 1] as 16-bit PCM WAV."""
    import wave

    samples = audio.detach().float().cpu()
    samples = samples.unsqueeze(0) if samples.ndim == 1 else samples
    pcm = (samples.clamp(-1, 1) * 32767).round().to(torch.int16).t().contiguous().numpy()  # (N, C)
    with wave.open(path, "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(int(sample_rate))
        handle.writeframes(pcm.tobytes())
    return path
