"""Runs LTX2 node classes inside a ComfyUI process without the server (executed by the ComfyUI Python).

usage: python inprocess_nodes.py COMFYUI_DIR PACK_DIR MODELS_DIR
Prints one JSON line: max |difference| of sampled latents for a LoRA'd model vs the base, and for the
base before vs after the LoRA run, with and without a small weight budget, and how many weights are still
packed after sampling. Runs under torch.inference_mode, as ComfyUI's executor runs every node.
"""

import json
import sys

import inprocess_host

inprocess_host.boot(*sys.argv[1:4])
import torch  # noqa: E402

from ltx2pack.nodes import host, latent, loaders, sampling, text  # noqa: E402


def result(node_output):
    return node_output.args


def main():
    te, = result(loaders.LTX2TextEncoderLoader.execute("gemma_3_12B_it.safetensors", "ltx-2-19b-dev.safetensors",
                                                       "cpu"))
    cond, = result(text.LTX2TextEncode.execute(te, "a fox in the snow", "blurry"))
    lat, = result(latent.LTX2EmptyAVLatent.execute(64, 64, 9, 0.0, 24.0, 1))
    guider, = result(sampling.LTX2Guider.execute(3.0, 7.0, 1.0, "1", 3.0, 0.7))
    sigmas, = result(sampling.LTX2Scheduler.execute("dev", 2))

    def sample(model, seed=42):
        out, = result(sampling.LTX2Sampler.execute(model, cond, guider, sigmas, lat, seed, "euler", False))
        return torch.cat([out.video.flatten(), out.audio.flatten()])

    report = {}
    for name, loader, args in (("safetensors", loaders.LTX2CheckpointLoader, ("ltx-2-19b-dev.safetensors",)),
                               ("gguf", loaders.LTX2TransformerLoader, ("ltx-2-19b-dev-Q4_K_M.gguf",))):
        model = result(loader.execute(*args, "default", 0.0))[0]
        first = sample(model)
        lora, = result(loaders.LTX2LoraLoader.execute(model, "ltx-2-test-lora.safetensors", 1.0))
        patched = sample(lora)
        sample(model, seed=7)
        again = sample(model)
        streamed_model = result(loader.execute(*args, "default", 1e-5))[0]
        streamed = sample(streamed_model)
        report[name] = {
            "lora_effect": (patched - first).abs().max().item(),
            "base_after_lora": (again - first).abs().max().item(),
            "streamed_vs_full": (streamed - first).abs().max().item(),
            "streamed_partial": host.is_partially_loaded(streamed_model),
            "packed_after_sampling": [host.packed_count(model.module), host.packed_count(streamed_model.module)],
        }
    print(json.dumps(report))


with torch.inference_mode():
    main()
