"""The video-to-audio workflow in a real ComfyUI (both hosts): the saved mp4 holds the input video's frames (decoded,
equal within the codec's error, not the VAE's reconstruction), at its frame rate, with generated audio exactly as
long as the video."""

import os

import av
import numpy as np

import workflow_api
from comfy_server import clear_outputs
from run_helpers import AAC_SLACK_S, read_mp4, saved_videos, small_prompt

WORKFLOW = os.path.join(workflow_api.WORKFLOWS, "LTX2 Video to Audio.json")
CODEC_LEVELS = 4.0  # mean |difference| in 0..255 levels allowed for two H.264 encodes of the same frames


def decoded_frames(path):
    with av.open(path) as container:
        stream = container.streams.video[0]
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)]), float(stream.average_rate)


def test_video_to_audio_keeps_the_frames_and_matches_the_duration(server, object_info, models):
    clear_outputs(server)
    prompt = small_prompt(WORKFLOW, object_info)
    given, given_fps = decoded_frames(os.path.join(server.base, "input", "example_video.mp4"))
    entry = server.run(prompt)
    videos = saved_videos(server, entry)
    assert len(videos) == 1, entry["outputs"]
    frames, fps, samples, rate = read_mp4(videos[0])
    assert frames.shape == given.shape and fps == given_fps, (frames.shape, given.shape, fps, given_fps)
    difference = np.abs(frames.astype(np.float64) - given.astype(np.float64))
    print(f"video-to-audio: frames differ by {difference.mean():.2f} levels on average (max {difference.max():.0f}); "
          f"audio {samples / rate:.4f} s for a {len(given) / fps:.4f} s video")
    assert difference.mean() < CODEC_LEVELS, difference.mean()
    reversed_order = np.abs(frames[::-1].astype(np.float64) - given.astype(np.float64)).mean()
    assert reversed_order > 3 * difference.mean(), (reversed_order, difference.mean())  # frame i is input frame i
    seconds = len(given) / fps
    assert seconds - 1e-3 <= samples / rate <= seconds + AAC_SLACK_S, (samples / rate, seconds)
