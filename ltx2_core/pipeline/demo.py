"""A tiny random-weight LTX-2.3 built in memory: every real component (Gemma text path, dual-stream
transformer, video VAE decoder, latent upsampler, audio VAE decoder, HiFi-GAN vocoder) at toy width.

The output is NOISE: the weights are random. It exercises the whole pipeline end to end in seconds on
a CPU. Real generation needs the real weights (see `python -m ltx2_core generate --help`).
"""

import string
from typing import Optional

import torch

from ..atomic import atomic_output
from ..audio import AudioVAE, AudioVAEConfig, Vocoder, VocoderConfig
from ..errors import InputError
from ..text import ConnectorConfig, EmbeddingsConnector, FeatureExtractorConfig, GemmaConfig, GemmaTextModel
from ..text import GemmaTokenizer, TextEncoder, TextProjection
from ..text.tokenizer import build_model_proto
from ..transformer import LTX2Transformer, TransformerConfig
from ..upsampler import SPATIAL_X1_5, SPATIAL_X2, TEMPORAL_X2, LatentUpsampler, LatentUpsamplerConfig
from ..video_vae import LTX23_VAE_METADATA, VideoVAE, VideoVAEConfig
from .generate import Components
from .guidance import Guidance, GuidanceParams

NOISE_NOTICE = (
    "The demo model has RANDOM weights: its output is noise, not a video of your prompt. For real "
    "generation download the LTX-2 / LTX-2.3 checkpoint (e.g. ltx-2.3-22b-dev.safetensors), the Gemma 3 "
    "text encoder folder and the spatial upscaler, then run `python -m ltx2_core generate --checkpoint ... "
    "--text-encoder ... --prompt ...` (see docs/api.md)."
)
# The demo's transformer has 2 blocks: STG on block 1 instead of the reference's 28.
DEMO_GUIDANCE = Guidance(
    video=GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
    audio=GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
)


def _randomize(module: torch.nn.Module, generator: torch.Generator) -> torch.nn.Module:
    """Fan-in scaled normal weights, small biases, unit norm scales, identity latent statistics."""
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point():
                continue
            leaf = name.rsplit(".", 1)[-1]
            if "std" in leaf:
                tensor.fill_(1.0)
            elif "mean" in leaf:
                tensor.zero_()
            elif tensor.ndim >= 2:
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=generator) / fan_in ** 0.5)
            elif leaf == "bias":
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.02)
            elif isinstance(tensor, torch.nn.Parameter):
                tensor.copy_(1.0 + torch.randn(tensor.shape, generator=generator) * 0.02)
    return module.eval()


def _tokenizer(max_length: int) -> GemmaTokenizer:
    """A byte-fallback vocabulary of specials, the 256 bytes and lowercase letters (no training needed)."""
    specials = [("<pad>", 3), ("<eos>", 3), ("<bos>", 3), ("<unk>", 2)]
    pieces = specials + [(f"<0x{b:02X}>", 6) for b in range(256)] + [(c, 1) for c in "\u2581" + string.ascii_lowercase]
    proto = build_model_proto([p for p, _ in pieces], [0.0] * len(pieces), [t for _, t in pieces])
    return GemmaTokenizer.from_bytes(proto, max_length=max_length)


DEMO_UPSAMPLERS = {"spatial_x2": SPATIAL_X2, "spatial_x1_5": SPATIAL_X1_5, "temporal_x2": TEMPORAL_X2}


def demo_upsampler(kind: str = "spatial_x2", seed: int = 0, channels: int = 16) -> LatentUpsampler:
    """A tiny random-weight latent upsampler of a released kind ("spatial_x2", "spatial_x1_5",
    "temporal_x2") for the demo's `channels`-channel latents: mid width 32, one block per stage."""
    if kind not in DEMO_UPSAMPLERS:
        raise InputError(f"Unknown upsampler kind {kind!r}: use one of {', '.join(DEMO_UPSAMPLERS)}.")
    config = DEMO_UPSAMPLERS[kind].with_(in_channels=channels, mid_channels=32, num_blocks_per_stage=1)
    return _randomize(LatentUpsampler(config), torch.Generator().manual_seed(seed))


def demo_components(seed: int = 0, max_length: int = 16, encoders: bool = False) -> Components:
    """All parts of a tiny LTX-2.3 with random weights (deterministic in `seed`).

    `encoders` also builds the video and audio VAE encoders (image / audio conditioning)."""
    generator = torch.Generator().manual_seed(seed)
    # Latent widths shrunk with the model: video 16 channels, audio 2 channels x 16 mel bins.
    config = TransformerConfig.tiny("2.3", in_channels=16, out_channels=16, audio_in_channels=32,
                                    audio_out_channels=32)
    transformer = _randomize(LTX2Transformer(config), generator)

    gemma_config = GemmaConfig.tiny(num_layers=2, sliding_window=4, vocab_size=512)
    states = gemma_config.num_layers + 1
    projection = TextProjection(FeatureExtractorConfig.ltx23(gemma_config.hidden_size, states, video_dim=config.dim,
                                                             audio_dim=config.audio_dim))
    video_connector = EmbeddingsConnector(ConnectorConfig(heads=config.heads, head_dim=config.head_dim, num_layers=1,
                                                          num_registers=4, gated=True))
    audio_connector = EmbeddingsConnector(ConnectorConfig(heads=config.audio_heads, head_dim=config.audio_head_dim,
                                                          num_layers=1, num_registers=4, gated=True))
    text_encoder = TextEncoder(
        _randomize(GemmaTextModel(gemma_config), generator), _tokenizer(max_length),
        _randomize(projection, generator), _randomize(video_connector, generator),
        _randomize(audio_connector, generator), max_length=max_length,
    )

    vae_meta = dict(LTX23_VAE_METADATA, decoder_base_channels=4, latent_channels=config.in_channels)
    vae_meta["decoder_blocks"] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p]
                                  for n, p in LTX23_VAE_METADATA["decoder_blocks"]]
    vae_meta["encoder_blocks"] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p]
                                  for n, p in LTX23_VAE_METADATA["encoder_blocks"]]
    video_vae = _randomize(VideoVAE(VideoVAEConfig.from_metadata(vae_meta),
                                   components=("encoder", "decoder") if encoders else ("decoder",)), generator)
    audio_vae = _randomize(AudioVAE(AudioVAEConfig(ch=8, num_res_blocks=1, z_channels=2), encoder=encoders), generator)
    vocoder_config = VocoderConfig.from_metadata({"vocoder": dict(
        upsample_initial_channel=32, upsample_rates=[6, 5, 2, 2, 2], upsample_kernel_sizes=[16, 15, 8, 4, 4],
        resblock="1", stereo=True, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3, 5]])})
    vocoder = _randomize(Vocoder(vocoder_config), generator)
    upsampler = _randomize(LatentUpsampler(LatentUpsamplerConfig(in_channels=config.in_channels, mid_channels=32,
                                                                 num_blocks_per_stage=1)), generator)
    return Components(transformer=transformer, video_vae=video_vae, audio_vae=audio_vae, vocoder=vocoder,
                      text_encoder=text_encoder, upsampler=upsampler, distilled=False)


def run_demo(out: str, prompt: str = "a red fox runs through snow", width: int = 256, height: int = 192,
             frames: int = 25, fps: float = 24.0, steps: int = 8, seed: int = 10, two_stage: bool = False,
             callback=None, parts: Optional[Components] = None) -> str:
    """Generate a noise clip with the tiny random model and write it to `out` (H.264 + AAC mp4)."""
    from .generate import generate

    parts = parts or demo_components()
    clip = generate(parts, prompt, width=width, height=height, frames=frames, fps=fps, steps=steps, seed=seed,
                    guidance=DEMO_GUIDANCE, two_stage=two_stage, callback=callback)
    return clip.save(out)


def _transformer_metadata(config: TransformerConfig, text_encoder: TextEncoder) -> dict:
    """The `transformer` section of the official `config` metadata for the demo transformer."""
    video_connector, audio_connector = text_encoder.video_connector.config, text_encoder.audio_connector.config
    return {
        # Values every official LTX-2 transformer config states.
        "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None, "activation_fn": "gelu-approximate",
        "num_embeds_ada_norm": 1000, "use_linear_projection": False, "only_cross_attention": False,
        "cross_attention_norm": True, "double_self_attention": False, "upcast_attention": False,
        "standardization_norm": "rms_norm", "norm_elementwise_affine": False, "qk_norm": "rms_norm",
        "positional_embedding_type": "rope", "use_audio_video_cross_attention": True, "share_ff": False,
        "av_cross_ada_norm": True, "use_middle_indices_grid": True, "rope_type": "split",
        "frequencies_precision": "float64", "timestep_scale_multiplier": 1000, "av_ca_timestep_scale_multiplier": 1000,
        # LTX-2.3 switches.
        "caption_proj_before_connector": True, "caption_projection_first_linear": False,
        "caption_proj_input_norm": False, "caption_projection_second_linear": False,
        "apply_gated_attention": config.gated_attention, "cross_attention_adaln": config.cross_attention_adaln,
        # Sizes.
        "num_layers": config.num_layers, "num_attention_heads": config.heads, "attention_head_dim": config.head_dim,
        "in_channels": config.in_channels, "out_channels": config.out_channels,
        "cross_attention_dim": config.cross_attention_dim, "audio_num_attention_heads": config.audio_heads,
        "audio_attention_head_dim": config.audio_head_dim, "audio_in_channels": config.audio_in_channels,
        "audio_out_channels": config.audio_out_channels, "audio_cross_attention_dim": config.audio_cross_attention_dim,
        "positional_embedding_max_pos": list(config.rope_max_pos),
        "audio_positional_embedding_max_pos": list(config.audio_rope_max_pos),
        "connector_num_attention_heads": video_connector.heads,
        "connector_attention_head_dim": video_connector.head_dim,
        "connector_num_layers": video_connector.num_layers,
        "audio_connector_num_attention_heads": audio_connector.heads,
        "audio_connector_attention_head_dim": audio_connector.head_dim,
        "audio_connector_num_layers": audio_connector.num_layers,
        "connector_apply_gated_attention": video_connector.gated,
        "connector_positional_embedding_max_pos": list(video_connector.max_pos),
    }


def _write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically (never a partial file)."""
    with atomic_output(path) as temp, open(temp, "wb") as out:
        out.write(data)


def _safetensors_bytes(tensors: dict, metadata: Optional[dict] = None) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().contiguous() for k, v in tensors.items()}, metadata=metadata)


def _checkpoint_metadata(parts: Components) -> dict:
    """The official single file's `config` metadata (transformer, vae, audio_vae, vocoder sections)."""
    vae = getattr(parts.video_vae.config, "encoder", parts.video_vae.config)  # a diffusion VAE: its conv encoder's
    audio = parts.audio_vae.config
    generator = parts.vocoder.config.generator
    return {
        "transformer": _transformer_metadata(parts.transformer.config, parts.text_encoder),
        "vae": {"latent_channels": vae.latent_channels, "patch_size": vae.patch_size, "norm_layer": "pixel_norm",
                "latent_log_var": vae.latent_log_var, "causal_decoder": vae.causal_decoder,
                "timestep_conditioning": vae.timestep_conditioning, "decoder_base_channels": vae.decoder_base_channels,
                "encoder_spatial_padding_mode": vae.encoder_padding,
                "decoder_spatial_padding_mode": vae.decoder_padding,
                "encoder_blocks": [[b.name, {"num_layers": b.num_layers} if b.name == "res_x" else
                                    {"multiplier": b.multiplier}] for b in vae.encoder_blocks],
                "decoder_blocks": [[b.name, {"num_layers": b.num_layers} if b.name == "res_x" else
                                    {"multiplier": b.multiplier, "residual": b.residual}] for b in vae.decoder_blocks]},
        "audio_vae": {"model": {"params": {"sampling_rate": audio.sample_rate, "ddconfig": {
            "double_z": audio.double_z, "mel_bins": audio.mel_bins, "z_channels": audio.z_channels, "resolution": 256,
            "downsample_time": False, "in_channels": audio.in_channels, "out_ch": audio.out_ch, "ch": audio.ch,
            "ch_mult": list(audio.ch_mult), "num_res_blocks": audio.num_res_blocks, "attn_resolutions": [],
            "dropout": 0.0, "mid_block_add_attention": audio.mid_attention, "norm_type": "pixel",
            "causality_axis": "height"}}},
            "preprocessing": {"audio": {"sampling_rate": audio.sample_rate, "stereo": True},
                              "stft": {"filter_length": audio.n_fft, "hop_length": audio.hop_length,
                                       "win_length": audio.n_fft, "causal": True},
                              "mel": {"n_mel_channels": audio.mel_bins, "mel_fmin": 0,
                                      "mel_fmax": audio.sample_rate // 2}}},
        "vocoder": {"upsample_initial_channel": generator.upsample_initial_channel,
                    "upsample_rates": list(generator.upsample_rates),
                    "upsample_kernel_sizes": list(generator.upsample_kernel_sizes), "resblock": generator.resblock,
                    "stereo": True, "resblock_kernel_sizes": list(generator.resblock_kernel_sizes),
                    "resblock_dilation_sizes": [list(d) for d in generator.resblock_dilation_sizes]},
    }


def _gemma_hf_config(g: GemmaConfig) -> dict:
    """config.json as Hugging Face ships Gemma 3 (`gemma3` with a `gemma3_text` text_config)."""
    text = {"model_type": "gemma3_text", "vocab_size": g.vocab_size, "hidden_size": g.hidden_size,
            "intermediate_size": g.intermediate_size, "num_hidden_layers": g.num_layers,
            "num_attention_heads": g.num_heads, "num_key_value_heads": g.num_kv_heads, "head_dim": g.head_dim,
            "query_pre_attn_scalar": g.query_pre_attn_scalar, "rms_norm_eps": g.rms_norm_eps,
            "sliding_window": g.sliding_window, "hidden_activation": "gelu_pytorch_tanh",
            "layer_types": ["full_attention" if t == "global" else "sliding_attention" for t in g.layer_types],
            "rope_theta": g.rope_global_theta, "rope_local_base_freq": g.rope_local_theta,
            "rope_scaling": {"rope_type": "linear", "factor": g.rope_global_scaling},
            "pad_token_id": g.pad_token_id, "bos_token_id": g.bos_token_id, "eos_token_id": list(g.eos_token_ids)}
    return {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "text_config": text,
            "eos_token_id": list(g.eos_token_ids), "torch_dtype": "float32"}


def upsampler_file_bytes(upsampler: LatentUpsampler) -> bytes:
    """The official upsampler file (weights + `config` metadata) of a latent upsampler."""
    import json

    up = upsampler.config
    return _safetensors_bytes(upsampler.state_dict(), {"config": json.dumps({
        "in_channels": up.in_channels, "mid_channels": up.mid_channels, "num_blocks_per_stage": up.num_blocks_per_stage,
        "dims": up.dims, "spatial_upsample": up.spatial_upsample, "temporal_upsample": up.temporal_upsample,
        "spatial_scale": up.spatial_scale, "rational_resampler": up.rational_resampler})})


def demo_lora(parts: Components, rank: int = 2, seed: int = 1) -> dict:
    """A tiny LoRA for the demo transformer in the official layout: `diffusion_model.<layer>.lora_A.weight`
    (rank, in) and `.lora_B.weight` (out, rank) for the q / k / v / out projections of every attention, bfloat16."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, module in parts.transformer.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith((".to_q", ".to_k", ".to_v", ".to_out.0")):
            out_features, in_features = module.weight.shape
            down = torch.randn(rank, in_features, generator=generator) / in_features ** 0.5
            up = torch.randn(out_features, rank, generator=generator) * 0.05
            tensors[f"diffusion_model.{name}.lora_A.weight"] = down.to(torch.bfloat16)
            tensors[f"diffusion_model.{name}.lora_B.weight"] = up.to(torch.bfloat16)
    return tensors


DEMO_FILES = {"checkpoint": "ltx-2.3-demo-tiny.safetensors", "text_encoder": "gemma-3-demo-tiny",
              "upsampler": "ltx-2.3-demo-spatial-upscaler-x2.safetensors", "lora": "ltx-2.3-demo-lora.safetensors"}


def save_demo_checkpoint(parts: Components, folder: str) -> dict:
    """Write the demo model in the official file layouts, every file atomically: the LTX-2.3 single file
    (transformer, text projection and connectors, video VAE, audio VAE, vocoder, with `config` metadata), a
    Gemma 3 folder as Hugging Face ships it (config.json, tokenizer.model, model.safetensors with
    `language_model.model.*` keys), the spatial x2 upsampler (with `config` metadata) and a tiny LoRA
    (official lora_A / lora_B keys). Returns {"checkpoint", "text_encoder", "upsampler", "lora"} paths, ready
    for `python -m ltx2_core generate` or `load_components`."""
    import json
    import os

    paths = {key: os.path.join(folder, name) for key, name in DEMO_FILES.items()}
    gemma_folder = paths["text_encoder"]
    os.makedirs(gemma_folder, exist_ok=True)
    text = parts.text_encoder
    tensors = {}
    for prefix, module in (("model.diffusion_model.", parts.transformer),
                           ("model.diffusion_model.video_embeddings_connector.", text.video_connector),
                           ("model.diffusion_model.audio_embeddings_connector.", text.audio_connector),
                           ("text_embedding_projection.", text.projection), ("vae.", parts.video_vae),
                           ("audio_vae.", parts.audio_vae), ("vocoder.", parts.vocoder)):
        tensors.update({prefix + k: v for k, v in module.state_dict().items()})
    _write_atomic(paths["checkpoint"], _safetensors_bytes(
        tensors, {"config": json.dumps(_checkpoint_metadata(parts)), "model_version": "2.3.0-demo"}))
    gemma = {"language_model.model." + k: v for k, v in text.gemma.state_dict().items()}
    _write_atomic(os.path.join(gemma_folder, "model.safetensors"), _safetensors_bytes(gemma, {"format": "pt"}))
    _write_atomic(os.path.join(gemma_folder, "tokenizer.model"), text.tokenizer.processor.serialized_model_proto())
    _write_atomic(os.path.join(gemma_folder, "config.json"),
                  json.dumps(_gemma_hf_config(text.gemma.config), indent=2).encode("utf-8"))
    _write_atomic(paths["upsampler"], upsampler_file_bytes(parts.upsampler))
    _write_atomic(paths["lora"], _safetensors_bytes(demo_lora(parts)))
    return paths


def export_demo(folder: str, seed: int = 0) -> dict:
    """`python -m ltx2_core demo --export FOLDER`: the demo's tiny model (with its VAE encoders, for image and
    audio conditioning) written as real files in the official layouts (see `save_demo_checkpoint`)."""
    make_export_folder(folder)
    return save_demo_checkpoint(demo_components(seed=seed, encoders=True), folder)


def make_export_folder(folder: str) -> None:
    """Creates `folder` for `demo --export` (LTX-2 and LTX-Video demos); one line when it cannot be used."""
    import os

    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"--export {folder!r} is a file: give a folder (it is created if missing).")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the export folder {folder!r} ({exc.strerror}): choose another path.") \
            from None
    if not os.access(folder, os.W_OK):
        raise InputError(f"The export folder {folder!r} is not writable: choose another path.")
