"""LTX-Video 0.9.x nodes: the T5 text-encoder loader (the other LTX-Video files go through the shared loaders,
which detect the family from the file)."""

import logging
import os

from comfy_api.latest import io

from . import family, host
from .loaders import CATEGORY, packed_weights_summary, stored_dtype
from .types import TextEncoder

MAX_LENGTHS = {"256 (0.9.5 and later)": 256, "128 (0.9.0 / 0.9.1)": 128}


def find_tokenizer(path: str):
    """The T5 tokenizer for a weights file: beside it (spiece.model / tokenizer.json, or the GGUF vocabulary),
    else the host's own T5 tokenizer (comfy/text_encoders/t5_tokenizer/tokenizer.json); None when neither exists."""
    import folder_paths

    from ..ltx2_core.text.t5.tokenizer import find_t5_tokenizer, host_tokenizer_file

    if path.lower().endswith(".gguf"):
        from ..ltx2_core.gguf.reader import GGUFFile

        if GGUFFile(path).field("tokenizer.ggml.model") == "t5":
            return path
    found = find_t5_tokenizer(path)
    if found is not None and found.endswith((".model", ".json")):
        return found
    return host_tokenizer_file(os.path.dirname(os.path.abspath(folder_paths.__file__)))


def load_t5_network(path: str, max_length: int, device: str = "default") -> host.Network:
    """The T5 text path (weights + tokenizer) as a host network tagged LTX-Video."""
    from ..ltx2_core.errors import CheckpointError
    from ..ltx2_core.text.t5 import load_t5_encoder
    from ..ltx2_core.text.t5.detect import check_t5_keys

    names, _ = family.read_names(path)
    check_t5_keys(names, os.path.basename(path))
    tokenizer = find_tokenizer(path)
    if tokenizer is None:
        raise CheckpointError(f"No T5 tokenizer found for {os.path.basename(path)}: put spiece.model (from "
                              "google/t5-v1_1-xxl) next to it in 'text_encoders', or use a T5 GGUF with a vocabulary.")
    load_device, offload_device = host.devices("text", device)
    dtype = host.compute_dtype("text", load_device)
    is_gguf = path.lower().endswith(".gguf")
    ops = host.gguf_operations() if is_gguf else host.operations(stored_dtype(path), dtype, load_device)
    encoder = load_t5_encoder(path, tokenizer=tokenizer, max_length=max_length, dtype=dtype, device=offload_device,
                              operations=ops).eval()
    logging.info("LTX2 T5 Text Encoder: %s: %d layers, %s, tokenizer %s (%d pieces), max length %d",
                 os.path.basename(path), encoder.model.config.num_layers, packed_weights_summary(encoder.model),
                 os.path.basename(tokenizer), encoder.tokenizer.vocab_size, max_length)
    network = host.Network(host.wrap(encoder, load_device, offload_device), "t5_text_encoder", dtype,
                           config=encoder.model.config, family=family.LTXV)
    host.log_packed(network, f"from {os.path.basename(path)}")
    return network


class LTX2T5TextEncoderLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2T5TextEncoderLoader",
            display_name="LTX2 Load T5 Text Encoder",
            category=CATEGORY,
            description="Loads the T5-XXL v1.1 encoder LTX-Video 0.9.x uses (safetensors such as t5xxl_fp16 / fp8, or a "
                        "T5 GGUF) from 'text_encoders'. Connect it to 'LTX2 Text Encode'.",
            inputs=[
                io.Combo.Input("t5_name", options=host.model_files("text_encoders", host.SAFETENSORS + host.GGUF),
                               tooltip="T5-XXL encoder weights in 'text_encoders'. The tokenizer is read from a "
                                       "spiece.model beside it, the GGUF's vocabulary, or ComfyUI's own T5 tokenizer."),
                io.Combo.Input("max_length", options=list(MAX_LENGTHS), default=next(iter(MAX_LENGTHS)),
                               tooltip="Prompt tokens: 256 for LTX-Video 0.9.5+, 128 for 0.9.0 / 0.9.1 (as the "
                                       "official pipeline)."),
                io.Combo.Input("device", options=["default", "cpu"], default="default",
                               tooltip="'cpu' keeps the text encoder off the GPU (saves VRAM, slower)."),
            ],
            outputs=[TextEncoder.Output(display_name="text_encoder")],
        )

    @classmethod
    def execute(cls, t5_name, max_length=next(iter(MAX_LENGTHS)), device="default"):
        from ..ltx2_core.errors import InputError

        if max_length not in MAX_LENGTHS:
            raise InputError(f"max_length {max_length!r} is not one of {', '.join(MAX_LENGTHS)}.")
        path = host.model_path("text_encoders", t5_name)
        return io.NodeOutput(load_t5_network(path, MAX_LENGTHS[max_length], device))
