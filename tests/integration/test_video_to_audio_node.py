"""The video-to-audio node inside ComfyUI (`inprocess_video_to_audio.py`): 12 frames of 100x70 are encoded as
17 frames at 96x64 (3 x 2 x 3 latent), the audio latent and the decoded audio last 12 / 25 s exactly, the sampler
leaves the frozen video latent bit-identical while it generates the audio, and bad inputs give one line each."""

import json
import os
import subprocess

from comfy_server import REPO

HERE = os.path.dirname(os.path.abspath(__file__))


def test_video_to_audio_node_in_comfyui(comfy, synthetic_models, models):
    comfy_dir, python = comfy
    env = dict(os.environ, OMP_NUM_THREADS="2")
    run = subprocess.run([python, os.path.join(HERE, "inprocess_video_to_audio.py"), comfy_dir, REPO,
                          os.path.join(synthetic_models[0], "models")], capture_output=True, text=True, timeout=300,
                         env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["video_shape"][2:] == [3, 2, 3] and report["audio_shape"][2] == round(12 / 25 * 25), report
    assert report["frames"] == 12 and report["size"] == [96, 64] and report["images_passed"], report
    assert report["fps"] == 25.0
    expected = {
        "single_frame": "InputError: LTX2 Video to Audio needs a video (2 frames or more), got 1 frame(s)",
        "no_vae": "InputError: LTX2 Video to Audio needs the video VAE",
        "pixel_range": "InputError: images pixels span",
        "size_multiple": "InputError: width 48 is not a multiple of 32",
        "fps_range": "InputError: fps 0.0 is out of range",
    }
    for case, message in expected.items():
        assert report[case] is not None and report[case].startswith(message), (case, report[case])
        assert "\n" not in report[case]
    assert report["sampler"] is None, report["sampler"]
    assert report["video_kept"] and report["audio_moved"] > 0, report
    assert report["samples"] == round(12 / 25 * report["rate"]), report
