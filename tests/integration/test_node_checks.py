"""Inside ComfyUI, nodes refuse values outside the core limits and stop on NaN/Inf with a clear error
naming the stage (instead of decoding or saving noise)."""


from comfy_server import run_inprocess


def test_nodes_refuse_bad_values_and_non_finite_latents(comfy, synthetic_models, models):
    report = run_inprocess("inprocess_checks.py", comfy, synthetic_models)
    expected = {
        "guider_cfg": "InputError: video cfg -1.0 is out of range: use a value from 0 to 30",
        "scheduler_steps": "InputError: steps 0 is invalid: use a whole number from 1 to 1000",
        "latent_fps": "InputError: fps 0.0 is out of range: use a value from 1 to 240",
        "image_range": "InputError: image pixels span 255..255, outside 0..1: scale them to that range (0..255 images: x / 255)",
        "strength": "InputError: strength 1.5 is out of range: use a value from 0 to 1",
        "video_decode_nan": "NonFiniteError: Video decoding: NaN/Inf values",
        "audio_decode_nan": "NonFiniteError: Audio decoding: NaN/Inf values",
        "audio_start": "InputError: start_seconds 5.0 is past the end of the 1.00-second audio",
        "sampler_nan": "NonFiniteError: Denoising step 1/2 (video latent): NaN/Inf values",
        "sampler_seed": "InputError: seed 18446744073709551616 is out of range",
    }
    for case, message in expected.items():
        assert report[case] is not None and report[case].startswith(message), (case, report[case])
    assert report["sampler_ok"] is None, report["sampler_ok"]
