"""Runs LTX2 node classes inside a ComfyUI process without the server (executed by the ComfyUI Python).

usage: python inprocess_nodes.py COMFYUI_DIR PACK_DIR MODELS_DIR
Prints one JSON line: max |difference| of sampled latents for a LoRA'd model vs the base, and for the
base before vs after the LoRA run, with and without a small weight budget, and how many weights are still
packed after sampling. Runs under torch.inference_mode, as ComfyUI's executor runs every node.
"""

import importlib.util
import json
import sys

comfy_dir, pack_dir, models_dir = sys.argv[1:4]
sys.path.insert(0, comfy_dir)
sys.argv = [sys.argv[0], "--cpu"]
import utils.install_util  # noqa: E402,F401  (ComfyUI's own `utils` package must win over others)
import comfy.options  # noqa: E402

comfy.options.enable_args_parsing()
import folder_paths  # noqa: E402
import torch  # noqa: E402

for folder in ("checkpoints", "diffusion_models", "text_encoders", "vae", "loras"):
    folder_paths.add_model_folder_path(folder, f"{models_dir}/{folder}", is_default=True)
spec = importlib.util.spec_from_file_location("ltx2pack", f"{pack_dir}/__init__.py", submodule_search_locations=[pack_dir])
pack = importlib.util.module_from_spec(spec)
sys.modules["ltx2pack"] = pack
spec.loader.exec_module(pack)
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
