"""Inside ComfyUI, the IC-LoRA guide (with a per-frame attention mask) and the reference-voice node feed the
sampler, and their bad inputs give one clear error each (`inprocess_reference.py`)."""


from comfy_server import run_inprocess


def test_reference_nodes_in_comfyui(comfy, synthetic_models, models):
    report = run_inprocess("inprocess_reference.py", comfy, synthetic_models)
    assert report["reference_tokens"] == 2 * 2 * 2  # 9 frames -> 2 latent frames of 2 x 2 (64 x 64 / 32)
    assert report["attention_shape"] == [1, 8] and report["audio_items"] == 1
    assert report["mask_frames"].startswith("InputError: attention_mask has 3 frames, the control video 9"), report
    assert report["attention_range"].startswith("InputError: attention_strength 1.5 is out of range"), report
    assert report["downscale_size"].startswith("InputError: The stage size 64x64 is not a multiple of 128"), report
    assert report["empty_voice"].startswith("InputError: The reference audio is empty or invalid"), report
    assert report["sampler"] is None, report["sampler"]
    assert report["video_shape_equal"] and report["video_changed"] > 1e-4 and report["audio_changed"] > 1e-4, report
