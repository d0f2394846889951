"""Inside ComfyUI, LTX2 Extend pins the next segment's first latents (video and audio) to the previous segment's
last ones through a real sampler run, and LTX2 Join Segments stitches the decoded segments on one clock
(`inprocess_long.py`)."""

from comfy_server import run_inprocess


def test_long_nodes_in_comfyui(comfy, synthetic_models, models):
    report = run_inprocess("inprocess_long.py", comfy, synthetic_models)
    assert report["overlap_grid"].startswith("InputError: overlap_frames 10 is not of the form 8k+1"), report
    assert report["overlap_long"].startswith("InputError: overlap_frames 17 is not shorter than the new segment"), report
    assert report["video_overlap_equal"] and report["audio_overlap_equal"], report
    assert report["audio_overlap_count"] == round(9 / 24 * 25) and report["rest_changed"] > 1e-4, report
    assert report["joined_frames"] == 17 + 8, report
    assert report["joined_samples"] == round(25 / 24 * report["sample_rate"]), report
    assert report["join_overlap"].startswith("InputError: The next segment has 17 frames, not more than the overlap"), report
