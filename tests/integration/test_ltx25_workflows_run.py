"""The LTX-2.5 workflow runs through the HTTP API of a real ComfyUI (CPU, tiny official-layout 2.5 files of
synthetic_ltx25.py): the Gemma 4 text encoder is loaded with the connectors of the 2.5 transformer file, the
duration head picks the clip's length (the frame count ltx2_core predicts for the same prompt and files), the
distilled stage samples with euler_ancestral, and the mp4's audio lasts as long as its video."""

import os
import re

import workflow_api
from comfy_server import clear_outputs
from run_helpers import AAC_SLACK_S, FPS, FRAMES, HEIGHT, WIDTH, read_mp4, saved_videos, small_prompt

NAME = "LTX-2.5 Distilled Text to Video with Auto Duration.json"


def expected_frames(models, prompt_text):
    import torch

    from ltx2_core.model_patches import load_duration_head
    from ltx2_core.pipeline.component_files import load_text_encoder_files
    from ltx2_core.pipeline.duration import predict_frames

    encoder = load_text_encoder_files(models["ltx25_gemma4"], models["ltx25_transformer"], torch.float32, "cpu")
    context = encoder.encode([prompt_text], use_cache=False)
    return predict_frames(load_duration_head(models["ltx25_duration_head"]), context.video, context.audio, FPS)


def test_ltx25_auto_duration_workflow(server, object_info, models):
    clear_outputs(server)
    prompt = small_prompt(os.path.join(workflow_api.WORKFLOWS, NAME), object_info,
                          overrides={("LTX2Scheduler", "steps"): 2})
    text = next(n["inputs"]["prompt"] for n in prompt.values() if n["class_type"] == "LTX2TextEncode")
    want = expected_frames(models, text)
    log_start = len(server.log())
    entry = server.run(prompt)
    videos = saved_videos(server, entry)
    assert len(videos) == 1, entry["outputs"]
    frames, fps, samples, rate = read_mp4(videos[0])
    assert frames.shape == (want, HEIGHT, WIDTH, 3) and want != 9  # not the widget's frames (9 in small_prompt)
    assert fps == FPS and frames.std() > 0
    assert want / FPS - 1e-3 <= samples / rate <= want / FPS + AAC_SLACK_S
    log = server.log()[log_start:]
    assert f"LTX2 Empty Latent: the duration head chose {want} frames" in log
    assert re.search(r"LTX2 Text Encoder: Gemma 4 from safetensors gemma4-12b-with-proj-ltx-2\.5-bf16\.safetensors: "
                     r"6 layers", server.log())
    assert re.search(r"LTX2 Sampler: \d+ steps", log)


def test_ltx25_image_to_video_workflow(server, object_info, models):
    """Image to audio+video with the 2.5 per-component files (image at frame 0, euler_ancestral): the mp4 has the
    latent's frames, and its audio lasts as long as its video."""
    clear_outputs(server)
    name = "LTX-2.5 Distilled Image to Video with Audio.json"
    entry = server.run(small_prompt(os.path.join(workflow_api.WORKFLOWS, name), object_info))
    videos = saved_videos(server, entry)
    assert len(videos) == 1, entry["outputs"]
    frames, fps, samples, rate = read_mp4(videos[0])
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3) and fps == FPS
    assert FRAMES / FPS - 1e-3 <= samples / rate <= FRAMES / FPS + AAC_SLACK_S
    assert "LTX2 Text Encoder: Gemma 4 from safetensors" in server.log()


def test_ltx25_dev_two_stage_workflow(server, object_info, models):
    """Dev two-stage with the 2.5 files: guided stage 1, the x2 latent upscaler, stage 2 with the distilled LoRA:
    the mp4 is twice the stage-1 size, with audio as long as its video."""
    clear_outputs(server)
    name = "LTX-2.5 Dev Two-Stage with 2x Upscale.json"
    log_start = len(server.log())
    entry = server.run(small_prompt(os.path.join(workflow_api.WORKFLOWS, name), object_info))
    videos = saved_videos(server, entry)
    assert len(videos) == 1, entry["outputs"]
    frames, fps, samples, rate = read_mp4(videos[0])
    assert frames.shape == (FRAMES, 2 * HEIGHT, 2 * WIDTH, 3) and fps == FPS
    assert FRAMES / FPS - 1e-3 <= samples / rate <= FRAMES / FPS + AAC_SLACK_S
    assert len(re.findall(r"LTX2 Sampler: \d+ steps", server.log()[log_start:])) == 2


def _with_generated_keyframes(prompt, count):
    """The prompt with 'LTX2 Generated Keyframes' between the empty latent and the sampler it feeds."""
    sampler = next(n for n in prompt.values() if n["class_type"] == "LTX2Sampler"
                   and prompt[n["inputs"]["latent"][0]]["class_type"] == "LTX2EmptyAVLatent")
    prompt["900"] = {"class_type": "LTX2GeneratedKeyframes", "inputs": {"latent": sampler["inputs"]["latent"],
                                                                         "count": count}}
    sampler["inputs"]["latent"] = ["900", 0]
    return prompt


def test_generated_keyframes_in_stage_one_then_dropped(server, object_info, models):
    """The dev two-stage 2.5 workflow with one generated keyframe: stage 1 samples one latent frame of extra tokens
    (at pixel frame 4 of 9), stage 2 (upscaled latent) drops them, and the mp4 keeps its frames and audio."""
    clear_outputs(server)
    name = "LTX-2.5 Dev Two-Stage with 2x Upscale.json"
    prompt = _with_generated_keyframes(small_prompt(os.path.join(workflow_api.WORKFLOWS, name), object_info), 1)
    log_start = len(server.log())
    entry = server.run(prompt)
    frames, fps, samples, rate = read_mp4(saved_videos(server, entry)[0])
    assert frames.shape == (FRAMES, 2 * HEIGHT, 2 * WIDTH, 3)
    assert FRAMES / FPS - 1e-3 <= samples / rate <= FRAMES / FPS + AAC_SLACK_S
    log = server.log()[log_start:]
    assert "LTX2 Generated Keyframes: frames 4" in log
    tokens = [int(t) for t in re.findall(r"LTX2 Sampler: \d+ steps, (\d+) video", log)]
    per_frame = (HEIGHT // 32) * (WIDTH // 32)  # stage 1 runs at the small size
    assert tokens == [2 * per_frame + per_frame, 2 * 4 * per_frame], tokens  # + 1 slot; stage 2 without it
    assert "generated keyframes dropped on the upscaled latent" in log


def test_generated_keyframes_refused_on_an_ltx2_model(server, object_info, models):
    path = os.path.join(workflow_api.WORKFLOWS, "LTX2 Text to Video with Audio.json")
    entry = server.wait(server.queue(_with_generated_keyframes(small_prompt(path, object_info), 1)))
    assert entry["status"]["status_str"] == "error"
    messages = {m[0]: m[1] for m in entry["status"]["messages"]}
    assert "need an LTX-2.5 transformer" in messages["execution_error"]["exception_message"]


def test_diffusion_vae_decodes_seeded(server, object_info, models):
    """The distilled image-to-video workflow with the 2.5 diffusion-decoder VAE: the loader builds it from the file,
    the decode node runs it with its seed (another seed, other frames; same-seed reproducibility is a core test) and
    the mp4 has the latent's frames."""
    from run_helpers import lossless_outputs, with_lossless_saves

    name = "LTX-2.5 Distilled Image to Video with Audio.json"
    diffusion_vae = os.path.basename(models["ltx25_diffusion_vae"])
    frames = {}
    clear_outputs(server)
    for run, seed in enumerate((5, 6)):
        prompt = small_prompt(os.path.join(workflow_api.WORKFLOWS, name), object_info,
                              overrides={("LTX2VideoVAELoader", "vae_name"): diffusion_vae,
                                         ("LTX2VideoDecode", "seed"): seed})
        log_start = len(server.log())
        entry = server.run(with_lossless_saves(prompt))
        if run == 0:  # the second run's SaveVideo may come from ComfyUI's cache
            video, _ = read_mp4(saved_videos(server, entry)[0])[:2]
            assert video.shape == (FRAMES, HEIGHT, WIDTH, 3)
        frames[run] = lossless_outputs(server, entry)[0]
        assert f"LTX-2.5 diffusion decoder, seed {seed}" in server.log()[log_start:]
    assert frames[0].shape == frames[1].shape and not (frames[0] == frames[1]).all()
