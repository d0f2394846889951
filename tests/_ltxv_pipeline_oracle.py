"""Test-only: the official ltx_video 0.1.2 LTXVideoPipeline on tiny random weights, with the VAE encode
replaced by a fixed latent (the official `vae_encode` samples with the global RNG) so the loop is compared."""

from unittest import mock

import torch

from ltx2_core.ltxv.transformer import LTXVTransformerConfig
from ltx2_core.ltxv.transformer.tiny import random_state_dict
from ltx2_core.ltxv.vae import tiny_metadata

from _ltxv_transformer_oracles import official_model
from _ltxv_vae_oracle import build_official


def tiny_transformer_pair(seed: int = 0, causal: bool = True, dtype=torch.float32):
    """(our LTXVTransformer, official Transformer3DModel) with identical random weights."""
    from ltx2_core.ltxv.transformer import LTXVTransformer

    config = LTXVTransformerConfig.tiny(causal_temporal_positioning=causal)
    state = random_state_dict(config, seed)
    ours = LTXVTransformer(config)
    ours.load_state_dict(state, strict=True)
    return ours.to(dtype).eval(), official_model(config, state, dtype)


def official_pipeline(official_transformer, scheduler=None):
    from ltx_video.models.transformers.symmetric_patchifier import SymmetricPatchifier
    from ltx_video.pipelines.pipeline_ltx_video import LTXVideoPipeline
    from ltx_video.schedulers.rf import RectifiedFlowScheduler

    vae = build_official(tiny_metadata("0.9.5")).eval()
    return LTXVideoPipeline(tokenizer=None, text_encoder=None, vae=vae, transformer=official_transformer,
                            scheduler=scheduler or RectifiedFlowScheduler(shifting="SD3", target_shift_terminal=0.1),
                            patchifier=SymmetricPatchifier(patch_size=1), prompt_enhancer_image_caption_model=None,
                            prompt_enhancer_image_caption_processor=None, prompt_enhancer_llm_model=None,
                            prompt_enhancer_llm_tokenizer=None)


def run_official(pipe, *, latents_by_item, items, height, width, frames, context, negative, seed, **kwargs):
    """Official latent output (B, C, F, H, W). items: [(frames of pixels, frame, strength)];
    latents_by_item: the normalized latent each item's encode returns. The scheduler's stochastic-sampling
    noise (torch.randn_like, the global RNG) is drawn from the pipeline's generator instead, in call order."""
    from ltx_video.pipelines.pipeline_ltx_video import ConditioningItem

    queue = list(latents_by_item)
    cond = [ConditioningItem(torch.zeros(1, 3, n, height, width), f, s) for n, f, s in items]
    generator = torch.Generator().manual_seed(seed)

    def randn_like(x):
        return torch.randn(x.shape, generator=generator, dtype=x.dtype)

    with mock.patch("ltx_video.pipelines.pipeline_ltx_video.vae_encode", lambda *a, **k: queue.pop(0)), \
            mock.patch("ltx_video.schedulers.rf.torch.randn_like", randn_like):
        out = pipe(height=height, width=width, num_frames=frames, frame_rate=25.0, prompt=None, negative_prompt=None,
                   prompt_embeds=context[0], prompt_attention_mask=context[1], negative_prompt_embeds=negative[0],
                   negative_prompt_attention_mask=negative[1], generator=generator,
                   output_type="latent", conditioning_items=cond or None, is_video=True,
                   vae_per_channel_normalize=True, **kwargs)
    return out.images


def diffusers_i2v(ours_config, state, *, image_latent, noise, context, negative, steps, height, width, frames):
    """diffusers LTXImageToVideoPipeline (0.9.0 / 0.9.1 first-frame replacement, CFG only) from given packed
    start latents (image at frame 0, noise elsewhere). Returns (packed latents, the sigmas it used)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXImageToVideoPipeline

    from _ltxv_transformer_oracles import diffusers_model
    from _ltxv_vae_oracle import build_diffusers

    transformer = diffusers_model(ours_config, state, torch.float32)
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05,
                                                base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1)
    pipe = LTXImageToVideoPipeline(scheduler=scheduler, vae=build_diffusers("0.9.1"), text_encoder=None,
                                   tokenizer=None, transformer=transformer)
    b, c, f, h, w = noise.shape
    mask = torch.zeros(b, 1, f, h, w)
    mask[:, :, 0] = 1.0
    start = image_latent.expand(b, c, f, h, w) * mask + noise * (1 - mask)
    packed = start.flatten(2).transpose(1, 2)  # (B, F*H*W, C)
    out = pipe(image=torch.zeros(1, 3, height, width), height=height, width=width, num_frames=frames,
               frame_rate=25, num_inference_steps=steps, guidance_scale=3.0, prompt_embeds=context[0],
               prompt_attention_mask=context[1], negative_prompt_embeds=negative[0],
               negative_prompt_attention_mask=negative[1], latents=packed, output_type="latent")
    return out.frames, scheduler.sigmas[:-1].clone()
