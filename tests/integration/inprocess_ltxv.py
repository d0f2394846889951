"""Runs the shared loaders, text encode and video decode on the tiny LTX-Video files inside a ComfyUI process
(executed by the ComfyUI Python); prints one JSON line of facts (families, shapes) and refusal messages.

usage: python inprocess_ltxv.py COMFYUI_DIR PACK_DIR MODELS_DIR
"""

import json
import sys

import inprocess_host
from inprocess_host import error_of, result

COMFY_DIR, PACK_DIR, MODELS = sys.argv[1:4]
inprocess_host.boot(COMFY_DIR, PACK_DIR, MODELS)
import folder_paths  # noqa: E402
import torch  # noqa: E402

folder_paths.add_model_folder_path("latent_upscale_models", f"{MODELS}/latent_upscale_models", is_default=True)

from ltx2pack.nodes import decode, latent, loaders, ltxv, ltxv_sampling, sampling, text  # noqa: E402
from ltx2pack.nodes.host import packed_count  # noqa: E402


report = {}
model, vae, audio = result(loaders.LTX2CheckpointLoader.execute("ltxv-13b-0.9.8-distilled.safetensors", "default", 0.0))
report["checkpoint"] = [model.family, vae.family, audio is None, type(model.module).__name__,
                        type(vae.module).__name__, vae.module.version]
old_model, old_vae, _ = result(loaders.LTX2CheckpointLoader.execute("ltx-video-2b-v0.9.1.safetensors", "default", 0.0))
report["checkpoint_091"] = [old_model.family, old_vae.module.version, bool(old_vae.config.timestep_conditioning),
                            bool(old_model.config.causal_temporal_positioning)]
solo, = result(loaders.LTX2VideoVAELoader.execute("ltx-video-0.9.0-vae.safetensors"))
report["vae_090"] = [solo.family, solo.module.version]
ltx2_vae, = result(loaders.LTX2VideoVAELoader.execute("LTX2_video_vae_bf16.safetensors"))
report["vae_ltx2"] = ltx2_vae.family
upscaler, = result(loaders.LTX2LatentUpscalerLoader.execute("ltxv-spatial-upscaler-0.9.8.safetensors"))
report["upscaler"] = upscaler.family
t5, = result(ltxv.LTX2T5TextEncoderLoader.execute("t5xxl_fp16.safetensors", "128 (0.9.0 / 0.9.1)", "cpu"))
cond, = result(text.LTX2TextEncode.execute(t5, "a red fox in the snow", "blurry"))
report["t5"] = [t5.family, list(cond.positive.embeddings.shape), int(cond.positive.mask.sum()),
                list(cond.negative.mask.shape)]
lat, = result(latent.LTX2EmptyAVLatent.execute(64, 64, 9, 0.0, 25.0, 1))
lat = lat.__class__(**{**lat.__dict__, "video": torch.randn_like(lat.video)})
frames = {}
for name, network, timestep, noise in (("091", old_vae, 0.05, 0.025), ("091_other", old_vae, 0.2, 0.1),
                                       ("090", solo, 0.05, 0.025), ("095", vae, 0.05, 0.025)):
    images, fps = result(decode.LTX2VideoDecode.execute(network, lat, False, 512, 64, 64, 24, timestep, noise))
    frames[name] = images
    report[f"decode_{name}"] = [list(images.shape), fps]
report["denoise_inputs_matter"] = float((frames["091"] - frames["091_other"]).abs().max())
report["gemma_with_t5"] = error_of(lambda: loaders.LTX2TextEncoderLoader.execute(
    "t5xxl_fp16.safetensors", "ltx-2-19b-dev.safetensors", "cpu"))
report["gemma_with_ltxv_ckpt"] = error_of(lambda: loaders.LTX2TextEncoderLoader.execute(
    "gemma_3_12B_it.safetensors", "ltxv-13b-0.9.8-distilled.safetensors", "cpu"))
report["t5_as_transformer"] = error_of(lambda: loaders.load_transformer_network(
    MODELS + "/text_encoders/t5xxl_fp16.safetensors"))
report["t5_loader_with_ltx2"] = error_of(lambda: ltxv.load_t5_network(MODELS + "/checkpoints/ltx-2-19b-dev.safetensors", 256))
report["audio_vae_ltxv"] = error_of(lambda: loaders.LTX2AudioVAELoader.execute("ltx-video-0.9.0-vae.safetensors"))
report["audio_decode_none"] = error_of(lambda: decode.LTX2AudioDecode.execute(audio, lat))
report["enhancer_t5"] = error_of(lambda: text.LTX2PromptEnhancer.execute(t5, "a fox"))
gguf, = result(loaders.LTX2TransformerLoader.execute("ltxv-13b-0.9.8-distilled-Q8_0.gguf", "default", 0.0))
report["gguf"] = [gguf.family, type(gguf.module).__name__, packed_count(gguf.module)]
guider, = result(sampling.LTX2Guider.execute(1.0, 1.0, 0.0, "", 1.0, 0.0))
empty, = result(latent.LTX2EmptyAVLatent.execute(64, 64, 9, 0.0, 25.0, 1))
sigmas, = result(ltxv_sampling.LTX2LTXVScheduler.execute(empty, "distilled second pass", 3))
report["sigmas"] = [round(float(v), 4) for v in sigmas]
videos = {}
for label, network in (("float", model), ("gguf", gguf)):
    lora, = result(loaders.LTX2LoraLoader.execute(network, "ltxv-test-lora.safetensors", 1.0))
    for name, net in ((label, network), (f"{label}_lora", lora)):
        out, = result(sampling.LTX2Sampler.execute(net, cond, guider, sigmas, empty, 7, "euler", False))
        videos[name] = out.video
        report[f"sample_{name}"] = [out.family, list(out.video.shape), bool(torch.isfinite(out.video).all())]
report["lora_changes_float"] = float((videos["float"] - videos["float_lora"]).abs().max())
report["lora_changes_gguf"] = float((videos["gguf"] - videos["gguf_lora"]).abs().max())
report["gguf_vs_float"] = float((videos["float"] - videos["gguf"]).abs().max() / videos["float"].abs().max())
report["lora_other_size"] = error_of(lambda: loaders.LTX2LoraLoader.execute(model, "ltxv-other-size-lora.safetensors",
                                                                             1.0))
report["sampler_gemma_prompts"] = error_of(lambda: sampling.LTX2Sampler.execute(
    model, text.TextConditioning(positive=object()), guider, sigmas, empty, 7, "euler", False))
report["sampler_res2s"] = error_of(lambda: sampling.LTX2Sampler.execute(model, cond, guider, sigmas, empty, 7, "res_2s",
                                                                        False))
report["ltx2_sampler_t5_prompts"] = error_of(lambda: sampling.LTX2Sampler.execute(
    result(loaders.LTX2CheckpointLoader.execute("ltx-2-19b-dev.safetensors", "default", 0.0))[0], cond, guider,
    sigmas, empty, 7, "euler", False))
report["decode_mixed"] = error_of(lambda: decode.LTX2VideoDecode.execute(ltx2_vae, out, False))
print(json.dumps(report))
