"""A video file written piece by piece: frames and audio are appended to one open container, so a long clip
never has to be in memory whole (decode a segment, append it, free it).

    with StreamingVideoWriter("long.mp4", fps=24.0, sample_rate=24000) as out:
        for segment in segments:
            out.append(segment.video, segment.audio)

Same containers and codecs as `video_io.write_video` (.mp4 / .mkv: H.264 + AAC, .webm: VP9 + Opus). The file
is written to a temporary file beside the destination and renamed when the block ends without error
(`ltx2_core.atomic`); on an error nothing is left. The audio is kept on the video's clock: after every
append the file holds exactly round(frames / fps * rate) samples (each piece trimmed or zero-padded to that),
so the streams end together to the sample however the pieces were cut.
"""

import contextlib
import math
import os
from fractions import Fraction
from typing import Optional

import numpy as np
import torch

from ..errors import InputError
from .video_io import _CONTAINERS, _LAYOUTS, _codec_rate, _resample, _to_uint8_frames


class StreamingVideoWriter:
    """Append (3, F, H, W) pixels in [-1, 1] and (C, N) waveforms at `sample_rate` (None: no audio track)."""

    def __init__(self, path: str, fps: float, sample_rate: Optional[int] = None, crf: int = 18,
                 audio_bitrate: int = 128000, container: Optional[str] = None):
        extension = container or os.path.splitext(path)[1].lower()
        if extension not in _CONTAINERS:
            raise InputError(f"Cannot write a video to {path!r}: use a file name ending in .mp4, .mkv or .webm.")
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise InputError(f"fps {fps} is invalid: use a positive frame rate such as 24 or 25.")
        self.path, self.fps, self.crf, self.audio_bitrate = path, float(fps), crf, audio_bitrate
        self.format, self.vcodec, self.acodec, rates = _CONTAINERS[extension]
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        self.audio_rate = None if sample_rate is None else _codec_rate(int(sample_rate), rates)
        self.frames = 0  # video frames appended
        self.samples = 0  # audio samples appended (at the codec rate)
        self._stack: Optional[contextlib.ExitStack] = None
        self._output = self._vstream = self._astream = None
        self._layout = None

    def __enter__(self) -> "StreamingVideoWriter":
        import av

        from ..atomic import atomic_output

        self._stack = contextlib.ExitStack()
        temp = self._stack.enter_context(atomic_output(self.path))
        self._output = self._stack.enter_context(av.open(temp, mode="w", format=self.format))
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        stack, self._stack = self._stack, None
        try:
            if kind is None:
                if self.frames == 0:
                    raise InputError(f"Nothing was written to {self.path!r}: append at least one frame.")
                self._flush()
        except BaseException as exc:
            if stack.__exit__(type(exc), exc, exc.__traceback__):
                return True
            raise
        return bool(stack.__exit__(kind, value, traceback))

    def _open_streams(self, height: int, width: int, channels: Optional[int]) -> None:
        vstream = self._output.add_stream(self.vcodec, rate=Fraction(self.fps).limit_denominator(1001))
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"crf": str(self.crf)} if self.vcodec == "libx264" else {
            "crf": str(self.crf + 14), "b": "0", "deadline": "realtime", "cpu-used": "8"}
        self._vstream = vstream
        if self.audio_rate is not None:
            self._layout = _LAYOUTS[channels]
            self._astream = self._output.add_stream(self.acodec, rate=self.audio_rate, layout=self._layout)
            self._astream.bit_rate = self.audio_bitrate

    def append(self, video: torch.Tensor, audio: Optional[torch.Tensor] = None) -> None:
        """Encode `video` (3, F, H, W) and the audio of the same span (trimmed / padded to the video's clock)."""
        import av

        from ..validation import check_finite

        if self._output is None:
            raise InputError("StreamingVideoWriter.append is used outside its `with` block: open it first.")
        check_finite(video, "The video to write")
        frames = _to_uint8_frames(video)  # (F, H, W, 3)
        count, height, width, _ = frames.shape
        wave = None
        if self.audio_rate is not None:
            if audio is None:
                raise InputError("This writer has an audio track: pass the audio of every piece.")
            check_finite(audio, "The audio to write")
            wave = audio.detach().float().cpu()
            wave = wave.unsqueeze(0) if wave.ndim == 1 else wave
            if wave.ndim != 2 or wave.shape[0] not in _LAYOUTS:
                raise InputError(f"Audio must be (channels, samples) with 1 or 2 channels, got {tuple(wave.shape)}: "
                                 "down-mix it to stereo.")
        if self._vstream is None:
            if height % 2 or width % 2:
                raise InputError(f"H.264 needs even sizes, got {width}x{height}: use an even width and height.")
            self._open_streams(height, width, None if wave is None else wave.shape[0])
        elif (width, height) != (self._vstream.width, self._vstream.height):
            raise InputError(f"A piece of {width}x{height} does not match the clip's "
                             f"{self._vstream.width}x{self._vstream.height}: append pieces of one size.")
        for image in frames:
            for packet in self._vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                self._output.mux(packet)
        self.frames += count
        if wave is not None:
            self._append_audio(wave.clamp(-1, 1).numpy())

    def _append_audio(self, samples: np.ndarray) -> None:
        import av

        if samples.shape[0] != _channels(self._layout):
            raise InputError(f"A piece has {samples.shape[0]} audio channels, the clip {_channels(self._layout)}: "
                             "append pieces with the same channels.")
        if self.audio_rate != self.sample_rate:
            samples = _resample(samples, self.sample_rate, self.audio_rate)
        need = round(self.frames / self.fps * self.audio_rate) - self.samples
        samples = np.pad(samples, ((0, 0), (0, max(0, need - samples.shape[1]))))[:, :max(need, 0)]
        if samples.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp",
                                           layout=self._layout)
        frame.sample_rate = self.audio_rate
        # Explicit, contiguous timestamps: the encoder's priming becomes the mp4 edit list (as write_video).
        frame.pts, frame.time_base = self.samples, Fraction(1, self.audio_rate)
        for packet in self._astream.encode(frame):
            self._output.mux(packet)
        self.samples += samples.shape[1]

    def _flush(self) -> None:
        for packet in self._vstream.encode():
            self._output.mux(packet)
        if self._astream is not None:
            for packet in self._astream.encode():
                self._output.mux(packet)


def _channels(layout: str) -> int:
    return {name: count for count, name in _LAYOUTS.items()}[layout]
