"""What an A/V mp4 written by the pack must hold, checked without depending on the frame content or on
x264's choices (B-frames, encoder delay):

- one H.264 and one AAC stream;
- exactly `frames` decoded frames, frame i presented at i / fps (exact, in the track's time base);
- the audio is sample-exact: its first AAC packet starts at or before 0 (the encoder's priming samples,
  which the edit list cuts) and its last packet ends at exactly round(frames / fps * rate) samples (the
  mp4 sample table is sample-accurate);
- the track and container durations equal frames / fps to within the movie timescale (1/1000 s: the edit
  list and the movie header store durations in it, so a 17000-sample track at 24 kHz reads as 0.708 s).
"""

from fractions import Fraction

import av

MOVIE_TICK = Fraction(1, 1000)


def check_av_mp4(path: str, frames: int, fps: float, sample_rate=None, channels: int = 2) -> dict:
    """Assert the properties above; returns the measured values (for messages and reports)."""
    rate = Fraction(fps).limit_denominator(1001)
    seconds = Fraction(frames) / rate
    with av.open(path) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"], [s.type for s in container.streams]
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        sample_rate = audio.sample_rate if sample_rate is None else sample_rate
        assert audio.sample_rate == sample_rate and audio.codec_context.channels == channels
        packets = [p for p in container.demux(audio) if p.size]
        audio_end = packets[-1].pts + packets[-1].duration
        measured = {"audio_samples": audio_end, "audio_first_pts": packets[0].pts,
                    "audio_track_s": audio.duration * audio.time_base,
                    "video_track_s": video.duration * video.time_base,
                    "container_s": Fraction(container.duration, av.time_base)}
    with av.open(path) as container:
        stream = container.streams.video[0]
        times = [frame.pts * stream.time_base for frame in container.decode(video=0)]
    assert times == [Fraction(i) / rate for i in range(frames)], (times, measured)
    assert audio_end == round(seconds * sample_rate), measured
    assert packets[0].pts <= 0, measured
    for key in ("audio_track_s", "video_track_s", "container_s"):
        assert abs(measured[key] - seconds) < MOVIE_TICK, (key, measured)
    return measured
