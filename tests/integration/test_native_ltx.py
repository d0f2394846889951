"""Our nodes coexist with ComfyUI's own LTX nodes (native LTX-2 from 0.8.0 on, LTX-Video before): no node id
clash, the native nodes are loaded in the same server, our loaders list the same files from the same model
folders as the core and native loaders, and one of our workflows runs in that server."""

import ast
import os

import workflow_api
from comfy_server import clear_outputs
from run_helpers import FRAMES, read_mp4, saved_videos, small_prompt
from test_host_object_info import our_nodes
from test_nodes_graphs import T2AV

# Core LTX nodes every tested host has (LTX-Video), and the native LTX-2 nodes ComfyUI 0.8.0 added.
NATIVE_LTXV = {"EmptyLTXVLatentVideo", "LTXVImgToVideo", "LTXVConditioning", "ModelSamplingLTXV", "LTXVScheduler"}
NATIVE_LTX2 = {"LTXAVTextEncoderLoader", "LTXVAudioVAELoader", "LTXVAudioVAEDecode", "LTXVEmptyLatentAudio",
               "LTXVConcatAVLatent", "LTXVSeparateAVLatent", "LatentUpscaleModelLoader"}
GGUF_INPUTS = {("LTX2TransformerLoader", "model_name"), ("LTX2TextEncoderLoader", "text_encoder_name")}
# (our node, input) -> the host loaders (node, input) that list the same model folder.
SAME_FOLDER = {
    ("LTX2CheckpointLoader", "ckpt_name"): [("CheckpointLoaderSimple", "ckpt_name"),
                                          ("LTXVAudioVAELoader", "ckpt_name"), ("LTXAVTextEncoderLoader", "ckpt_name")],
    # the connectors: in the single-file checkpoints, or (LTX-2.5) in the transformer file: both folders' files
    ("LTX2TextEncoderLoader", "ckpt_name"): [(("CheckpointLoaderSimple", "ckpt_name"), ("UNETLoader", "unet_name"))],
    ("LTX2TextEncoderLoader", "text_encoder_name"): [("CLIPLoader", "clip_name"),
                                                    ("LTXAVTextEncoderLoader", "text_encoder")],
    ("LTX2TransformerLoader", "model_name"): [("UNETLoader", "unet_name")],
    ("LTX2VideoVAELoader", "vae_name"): [("VAELoader", "vae_name")],
    ("LTX2AudioVAELoader", "vae_name"): [("VAELoader", "vae_name")],
    ("LTX2LatentUpscalerLoader", "model_name"): [("LatentUpscaleModelLoader", "model_name")],
}
# Files only in ComfyUI's legacy folder names (models/unet = diffusion_models, models/clip = text_encoders).
LEGACY_FILES = ("unet/legacy-transformer.safetensors", "unet/legacy-transformer.gguf",
                "clip/legacy-gemma.safetensors", "clip/legacy-gemma.gguf")


def registered_ids():
    """Node ids listed in nodes/__init__.py NODE_CLASSES (read statically)."""
    tree = ast.parse(open(os.path.join(workflow_api.REPO, "nodes", "__init__.py")).read())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "NODE_CLASSES")
    return {element.attr for element in node.value.elts}


def version_tuple(version):
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def options(object_info, node, name):
    info = object_info[node]["input"]
    spec = {**info.get("required", {}), **info.get("optional", {})}[name]
    return workflow_api.combo_options(spec)


def test_no_id_clash_and_native_nodes_loaded(comfy, object_info):
    ours = set(our_nodes(object_info))
    registered = registered_ids()
    assert ours == registered  # a clashing id would be missing here: ComfyUI keeps the core node
    core = {k for k, v in object_info.items() if not v.get("python_module", "").startswith("custom_nodes")}
    assert not core & registered
    expected = NATIVE_LTXV | (NATIVE_LTX2 if version_tuple(comfy.version) >= (0, 8) else set())
    assert expected <= core, sorted(expected - core)


def test_our_loaders_list_the_files_of_the_native_folders(server, comfy, models):
    created = []
    try:
        for relative in LEGACY_FILES:
            path = os.path.join(server.base, "models", relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(b"listed, never loaded")
            created.append(path)
        info = server.get("/object_info")  # fresh: folder listings follow the files on disk
        compared = 0
        for (node, name), natives in SAME_FOLDER.items():
            ours = set(options(info, node, name))
            exts = (".safetensors", ".sft", ".gguf") if (node, name) in GGUF_INPUTS else (".safetensors", ".sft")
            for union in natives:
                union = union if isinstance(union[0], tuple) else (union,)  # several native lists joined
                native = "+".join(n for n, _ in union)
                if any(n not in info for n, _ in union):
                    assert version_tuple(comfy.version) < (0, 8), f"{native} missing on ComfyUI {comfy.version}"
                    continue
                theirs = {f for n, input_name in union for f in options(info, n, input_name)
                          if f.lower().endswith(exts)}
                assert {f for f in ours if not f.endswith(".gguf")} == theirs, (node, name, native, ours, theirs)
                compared += 1
            if (node, name) in GGUF_INPUTS:  # GGUF files from the same folders, legacy names included
                folder = "unet" if node == "LTX2TransformerLoader" else "clip"
                assert f"legacy-{'transformer' if folder == 'unet' else 'gemma'}.gguf" in ours, ours
                assert os.path.basename(models["gguf" if folder == "unet" else "gemma_gguf"]) in ours, ours
        assert "legacy-transformer.safetensors" in options(info, "LTX2TransformerLoader", "model_name")
        assert compared == (10 if version_tuple(comfy.version) >= (0, 8) else 6), compared
    finally:
        for path in created:
            os.remove(path)


def test_our_workflow_runs_beside_the_native_nodes(server, object_info, models):
    assert NATIVE_LTXV <= set(object_info)
    clear_outputs(server)
    entry = server.run(small_prompt(T2AV, object_info, overrides={("LTX2Sampler", "seed"): 4242}))
    videos = saved_videos(server, entry)
    assert len(videos) == 1
    frames = read_mp4(videos[0])[0]
    assert frames.shape[0] == FRAMES and frames.std() > 0
