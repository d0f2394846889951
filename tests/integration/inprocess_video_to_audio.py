"""Runs the video-to-audio node inside a ComfyUI process (executed by the ComfyUI Python): frames of any count and
size become a frozen video latent that 'LTX2 Sampler' never moves while it generates the audio, decoded to exactly
frames / fps; the frames come out unchanged; bad inputs give one error each.
Prints one JSON line {case: value or "ErrorType: message" or null, ...}.

usage: python inprocess_video_to_audio.py COMFYUI_DIR PACK_DIR MODELS_DIR
"""

import json
import sys

import inprocess_host

inprocess_host.boot(*sys.argv[1:4])
import torch  # noqa: E402

from ltx2pack.nodes import decode, loaders, sampling, text, video_to_audio  # noqa: E402


def error_of(run):
    try:
        run()
    except Exception as exc:  # the report names the type and message of each error
        return f"{type(exc).__name__}: {exc}"
    return None


node = video_to_audio.LTX2VideoToAudio
vae, = loaders.LTX2VideoVAELoader.execute("LTX2_video_vae_bf16.safetensors").args
audio_vae, = loaders.LTX2AudioVAELoader.execute("LTX2_audio_vae_bf16.safetensors").args
images = torch.rand(12, 70, 100, 3, generator=torch.Generator().manual_seed(0))  # 12 frames (not 8k+1), 100x70
lat, out_images, out_fps = node.execute(vae, images, 25.0).args
report = {
    "video_shape": list(lat.video.shape), "audio_shape": list(lat.audio.shape), "frames": lat.frames,
    "size": [lat.width, lat.height], "images_passed": out_images is images, "fps": out_fps,
    "single_frame": error_of(lambda: node.execute(vae, images[:1], 25.0)),
    "no_vae": error_of(lambda: node.execute(None, images, 25.0)),
    "pixel_range": error_of(lambda: node.execute(vae, images * 255, 25.0)),
    "size_multiple": error_of(lambda: node.execute(vae, images, 25.0, 48, 64)),
    "fps_range": error_of(lambda: node.execute(vae, images, 0.0)),
}
model = loaders.LTX2CheckpointLoader.execute("ltx-2-19b-dev.safetensors", "default", 0.0).args[0]
te, = loaders.LTX2TextEncoderLoader.execute("gemma_3_12B_it.safetensors", "ltx-2-19b-dev.safetensors", "cpu").args
cond, = text.LTX2TextEncode.execute(te, "rain on a tin roof", "silence").args
guider, = sampling.LTX2Guider.execute(3.0, 7.0, 1.0, "1", 3.0, 0.7).args
sigmas, = sampling.LTX2Scheduler.execute("dev", 2).args
out = {}


def run():
    out["sampled"], = sampling.LTX2Sampler.execute(model, cond, guider, sigmas, lat, 7, "euler", False).args
    out["audio"], = decode.LTX2AudioDecode.execute(audio_vae, out["sampled"]).args


report["sampler"] = error_of(run)
if not report["sampler"]:
    report["video_kept"] = bool(torch.equal(out["sampled"].video, lat.video))
    report["audio_moved"] = float(out["sampled"].audio.abs().max())
    report["samples"] = int(out["audio"]["waveform"].shape[-1])
    report["rate"] = int(out["audio"]["sample_rate"])
print(json.dumps(report))
