"""Runs the reference-control nodes inside a ComfyUI process (executed by the ComfyUI Python): the IC-LoRA
guide with a per-frame attention mask and the reference voice feed a sampler; bad inputs give one error each.
Prints one JSON line {case: "ErrorType: message" or null, ...}.

usage: python inprocess_reference.py COMFYUI_DIR PACK_DIR MODELS_DIR
"""

import json
import sys

import inprocess_host
from inprocess_host import error_of, result

inprocess_host.boot(*sys.argv[1:4])
import torch  # noqa: E402

from ltx2pack.nodes import latent, loaders, reference, sampling, text  # noqa: E402


lat, = result(latent.LTX2EmptyAVLatent.execute(64, 64, 9, 0.0, 24.0, 1))
vae, = result(loaders.LTX2VideoVAELoader.execute("LTX2_video_vae_bf16.safetensors"))
audio_vae, = result(loaders.LTX2AudioVAELoader.execute("LTX2_audio_vae_bf16.safetensors"))
control = torch.rand(9, 48, 80, 3)
mask = torch.rand(9, 48, 80)
guided, = result(reference.LTX2ICLoRAGuide.execute(lat, vae, control, reference.NO_LORA, 1.0, 0.5, 1, mask))
voiced, = result(reference.LTX2ReferenceAudio.execute(guided, audio_vae,
                                                      {"waveform": torch.rand(1, 1, 16000) - 0.5,
                                                       "sample_rate": 16000}, 1.0))
item = guided.items[-1]
report = {
    "reference_tokens": int(item.latent[0, 0].numel()),
    "attention_shape": list(item.attention.shape),
    "audio_items": len(voiced.audio_items),
    "mask_frames": error_of(lambda: reference.LTX2ICLoRAGuide.execute(lat, vae, control, reference.NO_LORA, 1.0,
                                                                      1.0, 1, mask[:3])),
    "attention_range": error_of(lambda: reference.LTX2ICLoRAGuide.execute(lat, vae, control, reference.NO_LORA,
                                                                          1.0, 1.5, 1)),
    "downscale_size": error_of(lambda: reference.LTX2ICLoRAGuide.execute(lat, vae, control, reference.NO_LORA,
                                                                         1.0, 1.0, 4)),
    "empty_voice": error_of(lambda: reference.LTX2ReferenceAudio.execute(
        lat, audio_vae, {"waveform": torch.zeros(1, 1, 0), "sample_rate": 16000}, 1.0)),
}
model = result(loaders.LTX2CheckpointLoader.execute("ltx-2-19b-dev.safetensors", "default", 0.0))[0]
te, = result(loaders.LTX2TextEncoderLoader.execute("gemma_3_12B_it.safetensors", "ltx-2-19b-dev.safetensors", "cpu"))
cond, = result(text.LTX2TextEncode.execute(te, "a fox in the snow", "blurry"))
guider, = result(sampling.LTX2Guider.execute(2.0, 2.0, 0.0, "1", 1.0, 0.0))
sigmas, = result(sampling.LTX2Scheduler.execute("dev", 2))
out = {}


def run():
    out["plain"], = result(sampling.LTX2Sampler.execute(model, cond, guider, sigmas, lat, 7, "euler", False))
    out["guided"], = result(sampling.LTX2Sampler.execute(model, cond, guider, sigmas, voiced, 7, "euler", False))


report["sampler"] = error_of(run)
if not report["sampler"]:
    report["video_shape_equal"] = out["plain"].video.shape == out["guided"].video.shape
    report["video_changed"] = float((out["plain"].video - out["guided"].video).abs().max())
    report["audio_changed"] = float((out["plain"].audio - out["guided"].audio).abs().max())
print(json.dumps(report))
