"""Runs LTX2 nodes inside a ComfyUI process (executed by the ComfyUI Python) with values outside their
limits and with NaN latents; prints one JSON line {case: "ErrorType: message" or null}.

usage: python inprocess_checks.py COMFYUI_DIR PACK_DIR MODELS_DIR
"""

import dataclasses
import json
import math
import sys

import inprocess_host
from inprocess_host import error_of, result

inprocess_host.boot(*sys.argv[1:4])
import torch  # noqa: E402

from ltx2pack.nodes import conditioning, decode, latent, loaders, sampling, text  # noqa: E402


lat, = result(latent.LTX2EmptyAVLatent.execute(64, 64, 9, 0.0, 24.0, 1))
nan_lat = dataclasses.replace(lat, video=torch.full_like(lat.video, math.nan), audio=torch.full_like(lat.audio, math.nan))
report = {
    "guider_cfg": error_of(lambda: sampling.LTX2Guider.execute(-1.0, 7.0, 1.0, "1", 3.0, 0.7)),
    "scheduler_steps": error_of(lambda: sampling.LTX2Scheduler.execute("dev", 0)),
    "latent_fps": error_of(lambda: latent.LTX2EmptyAVLatent.execute(64, 64, 9, 0.0, 0.0, 1)),
    "image_range": error_of(lambda: conditioning.LTX2ImageConditioning.execute(
        lat, None, torch.full((1, 32, 32, 3), 255.0), 0, 1.0)),
    "strength": error_of(lambda: conditioning.LTX2VideoContinuation.execute(lat, None, torch.zeros(9, 32, 32, 3), 1.5)),
}
vae, = result(loaders.LTX2VideoVAELoader.execute("LTX2_video_vae_bf16.safetensors"))
audio_vae, = result(loaders.LTX2AudioVAELoader.execute("LTX2_audio_vae_bf16.safetensors"))
report["video_decode_nan"] = error_of(lambda: decode.LTX2VideoDecode.execute(vae, nan_lat, False))
report["audio_decode_nan"] = error_of(lambda: decode.LTX2AudioDecode.execute(audio_vae, nan_lat))
report["audio_start"] = error_of(lambda: conditioning.LTX2AudioConditioning.execute(
    lat, audio_vae, {"waveform": torch.zeros(1, 2, 16000), "sample_rate": 16000}, 5.0))
model = result(loaders.LTX2CheckpointLoader.execute("ltx-2-19b-dev.safetensors", "default", 0.0))[0]
te, = result(loaders.LTX2TextEncoderLoader.execute("gemma_3_12B_it.safetensors", "ltx-2-19b-dev.safetensors", "cpu"))
cond, = result(text.LTX2TextEncode.execute(te, "a fox in the snow", "blurry"))
guider, = result(sampling.LTX2Guider.execute(1.0, 1.0, 0.0, "1", 1.0, 0.0))
sigmas, = result(sampling.LTX2Scheduler.execute("dev", 2))
report["sampler_nan"] = error_of(lambda: sampling.LTX2Sampler.execute(model, cond, guider, sigmas, nan_lat, 0, "euler",
                                                                      False))
report["sampler_seed"] = error_of(lambda: sampling.LTX2Sampler.execute(model, cond, guider, sigmas, lat, 2**64,
                                                                       "euler", False))
report["sampler_ok"] = error_of(lambda: sampling.LTX2Sampler.execute(model, cond, guider, sigmas, lat, 2**64 - 1,
                                                                     "euler", False))
print(json.dumps(report))
