"""Reading and writing media through PyAV: video output (.mp4 / .mkv: H.264 + AAC, .webm: VP9 + Opus),
audio output (.wav, .flac), image / clip / audio input. Every file is written atomically (`ltx2_core.atomic`).

`write_video` trims or zero-pads the audio to exactly frames / fps seconds, so the two streams have
the same duration (the encoder's priming is cut by the container's edit list).
"""

import io
import math
import os
from fractions import Fraction
from typing import Optional, Tuple

import numpy as np
import torch

from ..errors import InputError

AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def _to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """(3, F, H, W) or (1, 3, F, H, W) in [-1, 1] -> (F, H, W, 3) uint8."""
    if video.ndim == 5:
        if video.shape[0] != 1:
            raise InputError(f"write_video takes one clip, got a batch of {video.shape[0]}: write them one by one.")
        video = video[0]
    if video.ndim != 4 or video.shape[0] != 3:
        raise InputError(f"Video must be (3, F, H, W) in [-1, 1], got shape {tuple(video.shape)}.")
    pixels = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(1, 2, 3, 0).cpu().numpy()  # (F, H, W, 3)


# Containers by extension: (format, video codec, audio codec, audio sample rates the codec takes or None).
_CONTAINERS = {
    ".mp4": ("mp4", "libx264", "aac", AAC_RATES),
    ".mkv": ("matroska", "libx264", "aac", AAC_RATES),
    ".webm": ("webm", "libvpx-vp9", "libopus", OPUS_RATES),
}
_LAYOUTS = {1: "mono", 2: "stereo"}


def fit_audio(audio: torch.Tensor, frames: int, fps: float, sample_rate: int) -> torch.Tensor:
    """(channels, samples) or (samples,) -> float32 (channels, round(frames / fps * sample_rate)): trimmed or
    zero-padded to exactly the video's duration."""
    wave = audio.detach().float().cpu()
    wave = wave.unsqueeze(0) if wave.ndim == 1 else wave
    if wave.ndim != 2 or wave.shape[0] not in _LAYOUTS:
        raise InputError(f"Audio must be (channels, samples) with 1 or 2 channels, got {tuple(wave.shape)}: "
                         "down-mix it to stereo.")
    target = round(frames / float(fps) * sample_rate)
    return torch.nn.functional.pad(wave, (0, max(0, target - wave.shape[1])))[:, :target]


def _codec_rate(rate: int, supported) -> int:
    """`rate` when the codec takes it, else the lowest supported rate above it (the highest if none is)."""
    if rate in supported:
        return rate
    above = [r for r in supported if r > rate]
    return min(above) if above else max(supported)


def _resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """(C, N) float32 at `rate` -> (C, round(N * target / rate)) at `target` (PyAV's resampler)."""
    import av

    layout = _LAYOUTS[wave.shape[0]]
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave), format="fltp", layout=layout)
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=target)
    chunks = [f.to_ndarray() for f in resampler.resample(frame)] + [f.to_ndarray() for f in resampler.resample(None)]
    out = np.concatenate(chunks, axis=1) if chunks else np.zeros((wave.shape[0], 0), np.float32)
    count = round(wave.shape[1] * target / rate)
    return np.pad(out, ((0, 0), (0, max(0, count - out.shape[1]))))[:, :count].astype(np.float32)


def write_video(
    path: str,
    video: torch.Tensor,
    fps: float,
    audio: Optional[torch.Tensor] = None,
    sample_rate: int = 24000,
    crf: int = 18,
    audio_bitrate: int = 128000,
    container: Optional[str] = None,
) -> str:
    """Write a clip, atomically (a temporary file renamed over `path` when complete); returns `path`.

    The container follows the extension (or `container`, one of VIDEO_EXTENSIONS): .mp4 / .mkv hold H.264
    (yuv420p) + AAC, .webm VP9 + Opus. video: (3, F, H, W) or (1, 3, F, H, W) in [-1, 1]. audio:
    (channels, samples) or (samples,) in [-1, 1] at `sample_rate`, 1 or 2 channels, trimmed or zero-padded
    to F / fps seconds (`fit_audio`) and encoded at its own rate (a rate the codec does not take is
    resampled to the next one it does; Opus takes 8, 12, 16, 24 and 48 kHz).
    """
    import av

    from ..atomic import atomic_output
    from ..validation import check_finite

    extension = container or os.path.splitext(path)[1].lower()
    if extension not in _CONTAINERS:
        raise InputError(f"Cannot write a video to {path!r}: use a file name ending in .mp4, .mkv or .webm.")
    fmt, vcodec, acodec, rates = _CONTAINERS[extension]
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InputError(f"fps {fps} is invalid: use a positive frame rate such as 24 or 25.")
    check_finite(video, "The video to write")
    frames = _to_uint8_frames(video)
    count, height, width, _ = frames.shape
    if height % 2 or width % 2:
        raise InputError(f"H.264 needs even sizes, got {width}x{height}: use an even width and height.")
    samples = None
    if audio is not None:
        check_finite(audio, "The audio to write")
        samples = fit_audio(audio, count, fps, sample_rate).clamp(-1, 1).numpy()  # (channels, samples)
    audio_rate = int(sample_rate) if rates is None else _codec_rate(int(sample_rate), rates)
    if samples is not None and audio_rate != sample_rate:
        samples = _resample(samples, int(sample_rate), audio_rate)
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_output(path) as temp, av.open(temp, mode="w", format=fmt) as output:
        vstream = output.add_stream(vcodec, rate=rate)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"crf": str(crf)} if vcodec == "libx264" else {"crf": str(crf + 14), "b": "0",
                                                                           "deadline": "realtime", "cpu-used": "8"}
        astream = None
        if samples is not None:
            layout = _LAYOUTS[samples.shape[0]]
            astream = output.add_stream(acodec, rate=audio_rate, layout=layout)
            astream.bit_rate = audio_bitrate
        for image in frames:
            for packet in vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                output.mux(packet)
        for packet in vstream.encode():
            output.mux(packet)
        if astream is not None:
            _encode_audio(output, astream, samples, audio_rate, layout)
    return path


def _encode_audio(output, stream, samples: np.ndarray, rate: int, layout: str) -> None:
    import av

    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout=layout)
    frame.sample_rate = rate
    # Explicit timestamps let the encoder mark its priming samples (negative pts), which the muxer turns
    # into an edit list: the audio track then lasts exactly F / fps seconds.
    frame.pts, frame.time_base = 0, Fraction(1, rate)
    for packet in stream.encode(frame):
        output.mux(packet)
    for packet in stream.encode():
        output.mux(packet)


def write_mp4(path: str, video: torch.Tensor, fps: float, audio: Optional[torch.Tensor] = None,
              sample_rate: int = 24000, crf: int = 18, audio_bitrate: int = 128000) -> str:
    """`write_video` into an H.264 + AAC mp4, whatever `path`'s extension."""
    return write_video(path, video, fps, audio, sample_rate, crf, audio_bitrate, container=".mp4")


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
    wave, _ = _decode_audio(path, sample_rate, channels)
    if max_seconds is not None:
        wave = wave[:, : round(max_seconds * sample_rate)]
    return wave


def read_audio_as_given(path: str) -> Tuple[torch.Tensor, int]:
    """The file's audio at its own sample rate and channels: ((channels, samples) float in [-1, 1], rate).
    Mono and stereo stay as they are; more channels are down-mixed to stereo."""
    return _decode_audio(path, None, None)


def _decode_audio(path: str, sample_rate: Optional[int], channels: Optional[int]) -> Tuple[torch.Tensor, int]:
    import av

    if not os.path.isfile(path):
        raise InputError(f"Audio file not found: {path!r}. Check the path.")
    chunks = []
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise InputError(f"{path!r} has no audio track. Use a WAV, MP3, FLAC or MP4 file with audio.")
            stream = container.streams.audio[0]
            rate = int(sample_rate or stream.codec_context.sample_rate)
            count = channels or min(2, max(1, stream.codec_context.channels))
            resampler = av.AudioResampler(format="fltp", layout=_LAYOUTS[count], rate=rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    except av.error.FFmpegError as exc:
        raise InputError(f"Cannot read audio from {path!r} ({exc}). Use a WAV, MP3, FLAC or MP4 file.") from None
    if not chunks:
        raise InputError(f"{path!r} has no audio samples.")
    return torch.from_numpy(np.concatenate(chunks, axis=1)).float(), rate  # (channels, samples)


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


def _pcm16(audio: torch.Tensor) -> np.ndarray:
    """(channels, samples) or (samples,) float in [-1, 1] -> int16 (samples, channels)."""
    from ..validation import check_finite

    check_finite(audio, "The audio to write")
    samples = audio.detach().float().cpu()
    samples = samples.unsqueeze(0) if samples.ndim == 1 else samples
    if samples.ndim != 2 or samples.shape[0] not in _LAYOUTS:
        raise InputError(f"Audio must be (channels, samples) with 1 or 2 channels, got {tuple(samples.shape)}.")
    return (samples.clamp(-1, 1) * 32767).round().to(torch.int16).t().contiguous().numpy()  # (N, C)


def write_wav(path: str, audio: torch.Tensor, sample_rate: int) -> str:
    """Write (channels, samples) or (samples,) float audio in [-1, 1] as 16-bit PCM WAV, atomically."""
    import wave

    from ..atomic import atomic_output

    pcm = _pcm16(audio)
    with atomic_output(path) as temp, wave.open(temp, "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(int(sample_rate))
        handle.writeframes(pcm.tobytes())
    return path


def write_flac(path: str, audio: torch.Tensor, sample_rate: int) -> str:
    """Write (channels, samples) or (samples,) float audio in [-1, 1] as 16-bit FLAC, atomically."""
    import av

    from ..atomic import atomic_output

    pcm = _pcm16(audio)
    layout = _LAYOUTS[pcm.shape[1]]
    with atomic_output(path) as temp, av.open(temp, mode="w", format="flac") as output:
        stream = output.add_stream("flac", rate=int(sample_rate), layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.reshape(1, -1)), format="s16", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = int(sample_rate), 0, Fraction(1, int(sample_rate))
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def write_audio(path: str, audio: torch.Tensor, sample_rate: int) -> str:
    """Write audio only, as WAV or FLAC by `path`'s extension (AUDIO_EXTENSIONS of ltx2_core.validation)."""
    extension = os.path.splitext(path)[1].lower()
    writers = {".wav": write_wav, ".flac": write_flac}
    if extension not in writers:
        raise InputError(f"Cannot write audio to {path!r}: use a file name ending in .wav or .flac.")
    return writers[extension](path, audio, sample_rate)
