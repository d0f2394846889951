"""Inside each ComfyUI host, the shared loaders read the tiny LTX-Video files (also a Q8_0 GGUF) and tag their
family, T5 encodes, the sampler runs LTX-Video with LoRAs applied through the patcher (float and packed weights),
the video decode runs the denoising decoder of 0.9.1+ VAEs, and wrong-family inputs get one line naming the
right node (inprocess_ltxv.py)."""


from comfy_server import run_inprocess


def test_ltxv_files_through_the_shared_nodes(comfy, synthetic_models, models):
    report = run_inprocess("inprocess_ltxv.py", comfy, synthetic_models)
    assert report["checkpoint"] == ["ltx-video", "ltx-video", True, "LTXVTransformer", "LTXVVideoVAE", "0.9.5"]
    assert report["checkpoint_091"] == ["ltx-video", "0.9.1", True, False]
    assert report["vae_090"] == ["ltx-video", "0.9.0"]
    assert report["vae_ltx2"] == "ltx-2" and report["upscaler"] == "any"
    family, shape, tokens, negative_shape = report["t5"]
    assert family == "ltx-video" and shape == [1, 128, 32] and 1 < tokens < 128 and negative_shape == [1, 128]
    for name in ("091", "090", "095"):
        assert report[f"decode_{name}"] == [[9, 64, 64, 3], 25.0], name
    assert report["denoise_inputs_matter"] > 1e-3  # decode timestep / noise scale reach the 0.9.1 decoder
    assert report["gguf"][:2] == ["ltx-video", "LTXVTransformer"] and report["gguf"][2] > 0  # weights stay packed
    assert report["sigmas"] == [0.9094, 0.725, 0.4219, 0.0]
    for name in ("float", "float_lora", "gguf", "gguf_lora"):
        assert report[f"sample_{name}"] == ["ltx-video", [1, 128, 2, 2, 2], True], name
    assert report["lora_changes_float"] > 1e-3 and report["lora_changes_gguf"] > 1e-3
    assert report["gguf_vs_float"] < 0.05  # Q8_0 rounding only
    expected = {
        "lora_other_size": "CheckpointError: LoRA ltxv-other-size-lora.safetensors does not fit this transformer: 2 "
                           "layers have other sizes",
        "sampler_gemma_prompts": "InputError: An LTX-Video model needs T5 prompts",
        "sampler_res2s": "InputError: sampler 'res_2s' is LTX-2 only",
        "ltx2_sampler_t5_prompts": "InputError: An LTX-2 model needs Gemma prompts",
        "decode_mixed": "InputError: LTX2 Video Decode got models of two families (video_vae is LTX-2, latent is "
                        "LTX-Video 0.9.x)",
        "gemma_with_t5": "CheckpointError: t5xxl_fp16.safetensors is a T5 text encoder (LTX-Video's): load it with "
                         "'LTX2 Load T5 Text Encoder'",
        "gemma_with_ltxv_ckpt": "CheckpointError: ltxv-13b-0.9.8-distilled.safetensors is an LTX-Video 0.9.x "
                                "checkpoint, which uses T5",
        "t5_as_transformer": "CheckpointError: t5xxl_fp16.safetensors is a T5 text encoder, not a diffusion-model "
                             "checkpoint: load it with 'LTX2 Load T5 Text Encoder'",
        "t5_loader_with_ltx2": "CheckpointError: ltx-2-19b-dev.safetensors is not a T5 text encoder",
        "audio_vae_ltxv": "CheckpointError: ltx-video-0.9.0-vae.safetensors is an LTX-Video 0.9.x file: LTX-Video "
                          "makes video only",
        "audio_decode_none": "InputError: LTX2 Audio Decode needs an LTX-2 model",
        "enhancer_t5": "InputError: LTX2 Prompt Enhancer is for LTX-2 models, but this is an LTX-Video 0.9.x model",
    }
    for case, message in expected.items():
        assert report[case] is not None and report[case].startswith(message), (case, report[case])
