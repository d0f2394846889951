"""Runs the long-clip nodes inside a ComfyUI process (executed by the ComfyUI Python): a sampled segment is
extended (LTX2 Extend), sampled again with another prompt, both are decoded and joined (LTX2 Join Segments);
bad inputs give one error each. Prints one JSON line.

usage: python inprocess_long.py COMFYUI_DIR PACK_DIR MODELS_DIR
"""

import json
import sys

import inprocess_host
from inprocess_host import error_of, result

inprocess_host.boot(*sys.argv[1:4])
import torch  # noqa: E402

from ltx2pack.nodes import decode, latent, loaders, long, sampling, text  # noqa: E402

model = result(loaders.LTX2CheckpointLoader.execute("ltx-2-19b-dev.safetensors", "default", 0.0))[0]
vae, = result(loaders.LTX2VideoVAELoader.execute("LTX2_video_vae_bf16.safetensors"))
audio_vae, = result(loaders.LTX2AudioVAELoader.execute("LTX2_audio_vae_bf16.safetensors"))
te, = result(loaders.LTX2TextEncoderLoader.execute("gemma_3_12B_it.safetensors", "ltx-2-19b-dev.safetensors", "cpu"))
first_prompt, = result(text.LTX2TextEncode.execute(te, "a fox in the snow", "blurry"))
second_prompt, = result(text.LTX2TextEncode.execute(te, "a fox at the river", "blurry"))
guider, = result(sampling.LTX2Guider.execute(1.0, 1.0, 0.0, "1", 1.0, 0.0))
sigmas, = result(sampling.LTX2Scheduler.execute("dev", 2))
empty, = result(latent.LTX2EmptyAVLatent.execute(64, 64, 17, 0.0, 24.0, 1))
report = {
    "overlap_grid": error_of(lambda: long.LTX2Extend.execute(empty, 17, 10)),
    "overlap_long": error_of(lambda: long.LTX2Extend.execute(empty, 17, 17)),
}
a, = result(sampling.LTX2Sampler.execute(model, first_prompt, guider, sigmas, empty, 7, "euler", False))
extended, = result(long.LTX2Extend.execute(a, 17, 9))
b, = result(sampling.LTX2Sampler.execute(model, second_prompt, guider, sigmas, extended, 8, "euler", False))
audio_count = extended.audio_items[0].latent.shape[2]
report["video_overlap_equal"] = bool(torch.equal(b.video[:, :, :2], a.video[:, :, -2:]))
report["audio_overlap_equal"] = bool(torch.equal(b.audio[:, :, :audio_count], a.audio[:, :, -audio_count:]))
report["audio_overlap_count"] = audio_count
report["rest_changed"] = float((b.video[:, :, 2:] - a.video[:, :, 2:]).abs().max())
images_a, fps = result(decode.LTX2VideoDecode.execute(vae, a, False))
images_b, _ = result(decode.LTX2VideoDecode.execute(vae, b, False))
audio_a, = result(decode.LTX2AudioDecode.execute(audio_vae, a))
audio_b, = result(decode.LTX2AudioDecode.execute(audio_vae, b))
joined, joined_audio = result(long.LTX2JoinSegments.execute(images_a, audio_a, images_b, audio_b, 9, fps))
report["joined_frames"] = int(joined.shape[0])
report["joined_samples"] = int(joined_audio["waveform"].shape[-1])
report["sample_rate"] = int(joined_audio["sample_rate"])
report["join_overlap"] = error_of(lambda: long.LTX2JoinSegments.execute(images_a, audio_a, images_b, audio_b, 17, fps))
print(json.dumps(report))
