"""Text nodes: prompt encoding (and prompt enhancement when the text encoder supports generation)."""

import torch
from comfy_api.latest import io

from . import family, host
from .types import Conditioning, T5Context, TextConditioning, TextEncoder

CATEGORY = "LTX2/text"


def encode_prompts(encoder: host.Network, prompts):
    """Encode a list of prompts on the encoder's device; returns a TextContext on the intermediate device."""
    from ..ltx2_core.validation import check_finite

    module = host.load(encoder)
    with torch.no_grad():
        context = module.encode(list(prompts))
    check_finite(context.video, "Text encoding (video context)")
    check_finite(context.audio, "Text encoding (audio context)")
    return host.to_device(context, host.intermediate_device())


def encode_t5_prompts(encoder: host.Network, prompts) -> T5Context:
    """T5 states (B, L, 4096) and mask (B, L) of the prompts, on the intermediate device."""
    from ..ltx2_core.validation import check_finite

    module = host.load(encoder)
    with torch.no_grad():
        states, mask = module.encode(list(prompts))
    check_finite(states, "Text encoding (T5)")
    out = host.intermediate_device()
    return T5Context(embeddings=states.to(out), mask=mask.to(out))


class LTX2TextEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2TextEncode",
            display_name="LTX2 Text Encode",
            category=CATEGORY,
            description="Encodes the prompt (and the negative prompt used by CFG): with Gemma 3 and the LTX connectors "
                        "for LTX-2, with T5-XXL for LTX-Video (whichever text encoder is connected).",
            inputs=[
                TextEncoder.Input("text_encoder", tooltip="Text encoder from 'LTX2 Load Text Encoder' (LTX-2) or 'LTX2 Load T5 Text Encoder' (LTX-Video)."),
                io.String.Input("prompt", multiline=True, default="",
                                tooltip="What to generate: describe the scene, the motion and the sound."),
                io.String.Input("negative_prompt", multiline=True, default="",
                                tooltip="What to avoid. Used only when a guider's CFG scale is not 1."),
            ],
            outputs=[Conditioning.Output(display_name="conditioning")],
        )

    @classmethod
    def execute(cls, text_encoder, prompt, negative_prompt=""):
        if text_encoder.family == family.LTXV:
            positive = encode_t5_prompts(text_encoder, [prompt])
            negative = encode_t5_prompts(text_encoder, [negative_prompt])
            return io.NodeOutput(TextConditioning(positive=positive, negative=negative))
        positive = encode_prompts(text_encoder, [prompt])
        negative = encode_prompts(text_encoder, [negative_prompt])
        return io.NodeOutput(TextConditioning(positive=positive, negative=negative))


class LTX2PromptEnhancer(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2PromptEnhancer",
            display_name="LTX2 Prompt Enhancer",
            category=CATEGORY,
            description="Rewrites a short prompt into a detailed LTX-2 prompt with the loaded Gemma (no extra model). "
                        "Connect its output to the prompt of 'LTX2 Text Encode'.",
            inputs=[
                TextEncoder.Input("text_encoder", tooltip="Text encoder from 'LTX2 Load Text Encoder' (its Gemma writes the prompt)."),
                io.String.Input("prompt", multiline=True, default="", tooltip="Your short prompt."),
                io.Combo.Input("mode", options=["t2v", "i2v"], default="t2v",
                               tooltip="'t2v' for text-to-video, 'i2v' when a first-frame image is used (the image is not shown to Gemma)."),
                io.Int.Input("max_new_tokens", default=512, min=16, max=2048, tooltip="Longest answer in tokens."),
                io.Float.Input("temperature", default=0.7, min=0.0, max=2.0, step=0.05,
                               tooltip="Sampling temperature (0 = greedy, always the same answer)."),
                io.Int.Input("seed", default=10, min=0, max=0xFFFFFFFF, control_after_generate=True,
                             tooltip="Sampling seed of the answer."),
            ],
            outputs=[io.String.Output(display_name="prompt")],
        )

    @classmethod
    def execute(cls, text_encoder, prompt, mode="t2v", max_new_tokens=512, temperature=0.7, seed=10):
        from ..ltx2_core.text.generate import enhance_prompt

        family.require(text_encoder, family.LTX2, "LTX2 Prompt Enhancer",
                       "T5 cannot write text; write the detailed prompt yourself in 'LTX2 Text Encode'.")
        module = host.load(text_encoder)
        enhanced = enhance_prompt(module.gemma, module.tokenizer, prompt, mode=mode, max_new_tokens=max_new_tokens,
                                  temperature=temperature, seed=seed)
        return io.NodeOutput(enhanced)
