"""LTX-2.5 nodes: the duration-head loader and the auto-duration length the empty latent takes from it."""

import logging
import os

import torch
from comfy_api.latest import io

from . import host
from .types import DurationHead

CATEGORY = "LTX2/loaders"


class LTX2DurationHeadLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2DurationHeadLoader",
            display_name="LTX2 Load Duration Head",
            category=CATEGORY,
            description="Loads the LTX-2.5 duration head from 'model_patches': it predicts a clip's length from the "
                        "prompt. Connect it (with the conditioning) to 'LTX2 Empty Audio-Video Latent'.",
            inputs=[
                io.Combo.Input("head_name", options=host.model_files("model_patches"),
                               tooltip="ltx-2.5-duration-head-bf16.safetensors in 'model_patches'."),
            ],
            outputs=[DurationHead.Output(display_name="duration_head")],
        )

    @classmethod
    def execute(cls, head_name):
        from ..ltx2_core.model_patches import load_duration_head

        path = host.model_path("model_patches", head_name)
        head = load_duration_head(path, dtype=torch.float32).eval()  # 1.9M parameters: runs on the CPU
        logging.info("LTX2: duration head from %s", os.path.basename(path))
        return io.NodeOutput(head)


def auto_frames(head, conditioning, fps: float) -> int:
    """The frame count (8k+1, 1..20 s) the duration head predicts for the positive prompt."""
    from ..ltx2_core.errors import InputError
    from ..ltx2_core.pipeline.duration import predict_frames

    if conditioning is None:
        raise InputError("The duration head needs the prompt: connect 'LTX2 Text Encode' to the conditioning input "
                         "of 'LTX2 Empty Audio-Video Latent', or disconnect the duration head.")
    positive = conditioning.positive
    if getattr(positive, "video", None) is None or positive.video.shape[0] != 1:
        raise InputError("Auto duration needs one LTX-2 prompt (T5 prompts and batches of prompts have no single "
                         "length): encode one prompt with the Gemma text encoder, or set frames.")
    to_cpu = lambda x: None if x is None else x.detach().to("cpu", torch.float32)  # noqa: E731
    return predict_frames(head, to_cpu(positive.video), to_cpu(positive.audio), fps)
