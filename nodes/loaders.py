"""Loader nodes: every network is built by ltx2_core with ComfyUI's ops and wrapped for model management."""

import logging
import os

import torch
from comfy_api.latest import io

from . import attention, family, host
from .types import AudioModels, AudioVAE, Model, TextEncoder, Upscaler, VideoVAE

CATEGORY = "LTX2/loaders"
WEIGHT_DTYPE_TOOLTIP = "Dtype the weights are kept in: 'default' keeps the file's dtype."
BUDGET_TOOLTIP = (
    "Most GB of transformer weights kept on the GPU; the rest streams in per layer (low-VRAM mode). "
    "0 lets ComfyUI decide (--lowvram / --novram still apply)."
)
_SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def stored_dtype(path: str) -> torch.dtype:
    """The floating dtype most of the file's bytes are stored in."""
    from ..ltx2_core.checkpoint import read_safetensors_header

    totals = {}
    for key, info in read_safetensors_header(path).items():
        if key == "__metadata__" or info["dtype"] not in _SAFETENSORS_DTYPES:
            continue
        start, end = info["data_offsets"]
        totals[info["dtype"]] = totals.get(info["dtype"], 0) + end - start
    return _SAFETENSORS_DTYPES[max(totals, key=totals.get)] if totals else torch.float32


def packed_weights_summary(module: torch.nn.Module) -> str:
    """'N packed weights (Q8_0 x N, ...)' for a module with quantized weights, else 'unpacked weights'."""
    counts = {}
    for tensor in module.state_dict().values():
        qtype = getattr(tensor, "qtype", None)
        if qtype is not None:
            counts[qtype] = counts.get(qtype, 0) + 1
    if not counts:
        return "unpacked weights"
    kinds = ", ".join(f"{name} x{count}" for name, count in sorted(counts.items()))
    return f"{sum(counts.values())} packed weights ({kinds})"


def _weight_dtype(choice: str, path: str) -> torch.dtype:
    chosen = host.WEIGHT_DTYPES.get(choice)
    return chosen if chosen is not None else stored_dtype(path)


def load_transformer_network(path: str, weight_dtype: str = "default", budget_gb: float = 0.0) -> host.Network:
    """A transformer of either family (detected from the file) from a safetensors (monolith or split) or GGUF
    file, wrapped for ComfyUI and tagged with its family."""
    names, metadata = family.read_names(path)
    kind = family.check_transformer_file(names, metadata, os.path.basename(path))
    load_device, offload_device = host.devices("diffusion")
    attention_fn = attention.host_attention()
    is_gguf = path.lower().endswith(".gguf")
    if is_gguf:
        dtype = host.compute_dtype("diffusion", load_device, None)
        stored, ops = dtype, host.gguf_operations()
    else:
        stored = _weight_dtype(weight_dtype, path)
        dtype = host.compute_dtype("diffusion", load_device, stored)
        ops = host.operations(stored, dtype, load_device)
    if kind == family.LTXV:
        from ..ltx2_core.ltxv import load_ltxv_transformer

        module = load_ltxv_transformer(path, operations=ops, dtype=dtype if is_gguf else stored,
                                       attention_fn=attention_fn, device=offload_device)
    elif is_gguf:
        from ..ltx2_core.gguf.loader import load_transformer_gguf

        module = load_transformer_gguf(path, operations=ops, dtype=dtype, attention_fn=attention_fn, device=offload_device)
    else:
        from ..ltx2_core.transformer import load_transformer

        module = load_transformer(path, operations=ops, dtype=stored, attention_fn=attention_fn, device=offload_device)
    module.eval()
    patcher = host.wrap(module, load_device, offload_device)
    network = host.Network(patcher, "transformer", dtype, config=getattr(module, "config", None),
                           weight_budget_bytes=int(float(budget_gb) * 2**30), family=kind)
    host.log_packed(network, f"from {os.path.basename(path)}")
    logging.info("LTX2: %s transformer from %s", family.NAMES[kind], os.path.basename(path))
    return network


def load_video_vae_network(path: str) -> host.Network:
    """The video VAE of either family (detected from the file), tagged with its family."""
    names, metadata = family.read_names(path)
    kind = family.vae_family(names, metadata)
    load_device, offload_device = host.devices("vae")
    dtype = host.compute_dtype("vae", load_device)
    ops = host.operations(dtype, dtype, load_device)
    if kind == family.LTXV:
        from ..ltx2_core.ltxv import load_ltxv_vae

        module = load_ltxv_vae(path, operations=ops, dtype=dtype, device=offload_device)
    else:
        from ..ltx2_core.video_vae import load_video_vae

        module = load_video_vae(path, operations=ops, dtype=dtype, device=offload_device)
    module.eval()
    return host.Network(host.wrap(module, load_device, offload_device), "video_vae", dtype,
                        config=getattr(module, "config", None), family=kind)


def load_audio_networks(path: str) -> AudioModels:
    """Audio VAE and vocoder from one file (monolith or audio-only); the vocoder runs in float32."""
    from ..ltx2_core.audio import load_audio_vae, load_vocoder
    from ..ltx2_core.errors import CheckpointError

    names, metadata = family.read_names(path)
    if family.transformer_family(names, metadata) == family.LTXV or (
            not any(k.startswith("audio_vae.") for k in names) and family.vae_family(names, metadata) == family.LTXV):
        raise CheckpointError(f"{os.path.basename(path)} is an LTX-Video 0.9.x file: LTX-Video makes video only and "
                              "has no audio VAE. Remove 'LTX2 Load Audio VAE' / 'LTX2 Audio Decode' from the graph.")
    load_device, offload_device = host.devices("vae")
    ops = host.operations(torch.float32, torch.float32, load_device)
    vae = load_audio_vae(path, operations=ops, dtype=torch.float32, device=offload_device).eval()
    vocoder = load_vocoder(path, operations=ops, dtype=torch.float32, device=offload_device).eval()
    return AudioModels(
        vae=host.Network(host.wrap(vae, load_device, offload_device), "audio_vae", torch.float32, vae.config),
        vocoder=host.Network(host.wrap(vocoder, load_device, offload_device), "vocoder", torch.float32,
                             vocoder.config),
    )


def _budget_input():
    return io.Float.Input("gpu_weight_budget_gb", default=0.0, min=0.0, max=1024.0, step=0.25,
                          tooltip=BUDGET_TOOLTIP)


def check_gemma_inputs(gemma_path: str, ckpt_path: str) -> None:
    """One line when the Gemma loader is given a T5 file or an LTX-Video checkpoint (both need the T5 loader)."""
    from ..ltx2_core.errors import CheckpointError
    from ..ltx2_core.text.t5.detect import is_t5_checkpoint

    names, _ = family.read_names(gemma_path)
    if is_t5_checkpoint(names):
        raise CheckpointError(f"{os.path.basename(gemma_path)} is a T5 text encoder (LTX-Video's): load it with "
                              "'LTX2 Load T5 Text Encoder'; 'LTX2 Load Text Encoder' loads Gemma 3 for LTX-2.")
    names, metadata = family.read_names(ckpt_path)
    if family.transformer_family(names, metadata) == family.LTXV:
        raise CheckpointError(f"{os.path.basename(ckpt_path)} is an LTX-Video 0.9.x checkpoint, which uses T5, not "
                              "Gemma: load its text encoder with 'LTX2 Load T5 Text Encoder'.")


# Where the text connectors live: the single-file checkpoints, or (LTX-2.5) the transformer file.
CONNECTOR_FOLDERS = ("checkpoints", "diffusion_models")


class LTX2CheckpointLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2CheckpointLoader",
            display_name="LTX2 Load Checkpoint",
            category=CATEGORY,
            description="Loads an all-in-one checkpoint: LTX-2 / LTX-2.3 (transformer, video VAE, audio VAE + vocoder) "
                        "or LTX-Video 0.9.x (transformer and video VAE; no audio). The family is read from the file.",
            inputs=[
                io.Combo.Input("ckpt_name", options=host.model_files("checkpoints"),
                               tooltip="All-in-one LTX-2 or LTX-Video checkpoint from the 'checkpoints' folder."),
                io.Combo.Input("weight_dtype", options=list(host.WEIGHT_DTYPES), default="default",
                               tooltip=WEIGHT_DTYPE_TOOLTIP),
                _budget_input(),
            ],
            outputs=[Model.Output(display_name="model"), VideoVAE.Output(display_name="video_vae"),
                     AudioVAE.Output(display_name="audio_vae")],
        )

    @classmethod
    def execute(cls, ckpt_name, weight_dtype="default", gpu_weight_budget_gb=0.0):
        path = host.model_path("checkpoints", ckpt_name)
        model = load_transformer_network(path, weight_dtype, gpu_weight_budget_gb)
        # LTX-Video is video only: its audio_vae output is None (the audio nodes refuse it in one line).
        audio = load_audio_networks(path) if model.family == family.LTX2 else None
        return io.NodeOutput(model, load_video_vae_network(path), audio)


class LTX2TransformerLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2TransformerLoader",
            display_name="LTX2 Load Transformer",
            category=CATEGORY,
            description="Loads only the transformer (safetensors or GGUF) from 'diffusion_models': LTX-2 or LTX-Video "
                        "0.9.x, read from the file.",
            inputs=[
                io.Combo.Input("model_name", options=host.model_files("diffusion_models", host.SAFETENSORS + host.GGUF),
                               tooltip="Transformer file (.safetensors or quantized .gguf) in 'diffusion_models'."),
                io.Combo.Input("weight_dtype", options=list(host.WEIGHT_DTYPES), default="default",
                               tooltip=WEIGHT_DTYPE_TOOLTIP + " Ignored for GGUF files (they stay quantized)."),
                _budget_input(),
            ],
            outputs=[Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model_name, weight_dtype="default", gpu_weight_budget_gb=0.0):
        path = host.model_path("diffusion_models", model_name)
        return io.NodeOutput(load_transformer_network(path, weight_dtype, gpu_weight_budget_gb))


class LTX2TextEncoderLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2TextEncoderLoader",
            display_name="LTX2 Load Text Encoder",
            category=CATEGORY,
            description="Loads Gemma 3 (LTX-2 / LTX-2.3) or the LTX-2.5 Gemma 4 from 'text_encoders' plus the LTX "
                        "text projection and connectors from the LTX checkpoint.",
            inputs=[
                io.Combo.Input("text_encoder_name", options=host.model_files("text_encoders", host.SAFETENSORS + host.GGUF),
                               tooltip="Gemma 3 12B weights (safetensors or GGUF) for LTX-2 / LTX-2.3, or "
                                       "gemma4-12b-with-proj-ltx-2.5 for LTX-2.5, in 'text_encoders'."),
                io.Combo.Input("ckpt_name", options=host.model_files(CONNECTOR_FOLDERS),
                               tooltip="LTX file holding the embedding connectors (and, before LTX-2.5, the text "
                                       "projection): the single-file checkpoint, or for LTX-2.5 the transformer "
                                       "file in 'diffusion_models'."),
                io.Combo.Input("device", options=["default", "cpu"], default="default",
                               tooltip="'cpu' keeps the text encoder off the GPU (saves VRAM, slower)."),
            ],
            outputs=[TextEncoder.Output(display_name="text_encoder")],
        )

    @classmethod
    def execute(cls, text_encoder_name, ckpt_name, device="default"):
        from ..ltx2_core.release import check_text_encoder_file
        from ..ltx2_core.text import load_text_encoder

        gemma_path = host.model_path("text_encoders", text_encoder_name)
        ckpt_path = host.model_path(CONNECTOR_FOLDERS, ckpt_name)
        check_gemma_inputs(gemma_path, ckpt_path)
        load_device, offload_device = host.devices("text", device)
        dtype = host.compute_dtype("text", load_device)
        kind = check_text_encoder_file(gemma_path, ckpt_path)
        if kind.family == "gemma4":
            from ..ltx2_core.text.gemma4 import load_gemma4_text_encoder

            encoder = load_gemma4_text_encoder(
                gemma_path, ckpt_path, operations=host.operations(stored_dtype(gemma_path), dtype, load_device),
                attention_fn=attention.host_attention(), dtype=dtype, device=offload_device)
            source = f"safetensors {text_encoder_name}"
        elif gemma_path.lower().endswith(".gguf"):
            from ..ltx2_core.gguf.loader import gemma_config_from_gguf, gemma_tokenizer_from_gguf
            from ..ltx2_core.gguf.reader import GGUFFile

            gguf_file = GGUFFile(gemma_path)
            encoder = load_text_encoder(
                gguf_file.state_dict(dtype=dtype), ckpt_path, tokenizer=gemma_tokenizer_from_gguf(gemma_path),
                gemma_config=gemma_config_from_gguf(gguf_file), operations=host.gguf_operations(),
                attention_fn=attention.host_attention(), dtype=dtype,
                device=offload_device,
            )
            source = f"GGUF {text_encoder_name}"
        else:
            ops = host.operations(stored_dtype(gemma_path), dtype, load_device)
            encoder = load_text_encoder(gemma_path, ckpt_path, operations=ops, attention_fn=attention.host_attention(),
                                        dtype=dtype, device=offload_device)
            source = f"safetensors {text_encoder_name}"
        encoder.eval()
        logging.info("LTX2 Text Encoder: %s from %s: %d layers, %s, tokenizer of %d pieces",
                     "Gemma 4" if kind.family == "gemma4" else "Gemma 3", source, encoder.gemma.config.num_layers,
                     packed_weights_summary(encoder.gemma),
                     encoder.tokenizer.vocab_size)
        network = host.Network(host.wrap(encoder, load_device, offload_device), "text_encoder", dtype)
        host.log_packed(network, f"from {text_encoder_name}")
        return io.NodeOutput(network)


class LTX2VideoVAELoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2VideoVAELoader",
            display_name="LTX2 Load Video VAE",
            category=CATEGORY,
            description="Loads the video VAE from a file in 'vae' (VAE-only or an all-in-one checkpoint): LTX-2 or "
                        "LTX-Video 0.9.0 / 0.9.1 / 0.9.5+, read from the file.",
            inputs=[io.Combo.Input("vae_name", options=host.model_files("vae"),
                                   tooltip="Video VAE file in the 'vae' folder.")],
            outputs=[VideoVAE.Output(display_name="video_vae")],
        )

    @classmethod
    def execute(cls, vae_name):
        return io.NodeOutput(load_video_vae_network(host.model_path("vae", vae_name)))


class LTX2AudioVAELoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2AudioVAELoader",
            display_name="LTX2 Load Audio VAE",
            category=CATEGORY,
            description="Loads the LTX-2 audio VAE and its vocoder from one file in 'vae'.",
            inputs=[io.Combo.Input("vae_name", options=host.model_files("vae"),
                                   tooltip="File in 'vae' holding 'audio_vae.*' and 'vocoder.*' weights.")],
            outputs=[AudioVAE.Output(display_name="audio_vae")],
        )

    @classmethod
    def execute(cls, vae_name):
        return io.NodeOutput(load_audio_networks(host.model_path("vae", vae_name)))


class LTX2LatentUpscalerLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2LatentUpscalerLoader",
            display_name="LTX2 Load Latent Upscaler",
            category=CATEGORY,
            description="Loads a latent upsampler (spatial x2 / x1.5 or temporal x2): LTX-2 or LTX-Video 0.9.7 / 0.9.8 "
                        "(same architecture, usable with either family's VAE).",
            inputs=[io.Combo.Input("model_name", options=host.model_files(host.UPSCALER_FOLDER),
                                   tooltip="Upsampler file in 'latent_upscale_models'.")],
            outputs=[Upscaler.Output(display_name="upscaler")],
        )

    @classmethod
    def execute(cls, model_name):
        from ..ltx2_core.upsampler import load_latent_upsampler

        path = host.model_path(host.UPSCALER_FOLDER, model_name)
        load_device, offload_device = host.devices("vae")
        dtype = host.compute_dtype("vae", load_device)
        module = load_latent_upsampler(path, operations=host.operations(stored_dtype(path), dtype, load_device),
                                       dtype=dtype, device=offload_device).eval()
        return io.NodeOutput(host.Network(host.wrap(module, load_device, offload_device), "upsampler", dtype,
                                          getattr(module, "config", None), family=family.ANY))


class LTX2LoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2LoraLoader",
            display_name="LTX2 Load LoRA",
            category=CATEGORY,
            description="Applies a LoRA (official or ComfyUI key names) to the transformer; chain several.",
            inputs=[
                Model.Input("model", tooltip="Transformer to patch (not modified; a patched copy is returned)."),
                io.Combo.Input("lora_name", options=host.model_files("loras"), tooltip="LoRA file in 'loras'."),
                io.Float.Input("strength", default=1.0, min=-10.0, max=10.0, step=0.01,
                               tooltip="LoRA multiplier (1 = as trained, 0 = off)."),
            ],
            outputs=[Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model, lora_name, strength=1.0):
        path = host.model_path("loras", lora_name)
        if strength == 0:
            return io.NodeOutput(model)
        return io.NodeOutput(host.apply_lora(model, path, strength, os.path.basename(path)))
