"""A tiny random-weight LTX-2.5: the 2.5 transformer (video FFN without biases, the learned keyframe marker),
the Gemma 4 text path (tokenizer from an embedded tokenizer.json, as the official file carries it) and the
duration head, with the video VAE, audio VAE and vocoder of the 2.3 demo (LTX-2.5's audio files load through the
2.3 code). The diffusion video decoder is not built yet: this demo decodes with the conv decoder.

`export_demo25` writes it as the official per-component files (2.5 has no single-file checkpoint), ready for
`python -m ltx2_core generate --checkpoint <transformer> --text-encoder <gemma4> --video-vae ... --audio-vae ...
--duration-head ... --seconds auto`.
"""

import json
import math
import os
import string
from dataclasses import replace

import torch

from ..model_patches import DurationHead, DurationHeadConfig
from ..release import LTX25_GEMMA, Release
from ..text import TextEncoder, TextProjection
from ..text.gemma4 import Gemma4Config, Gemma4TextModel
from ..text.gemma4.tokenizer import Gemma4Tokenizer
from ..transformer import LTX2Transformer, TransformerConfig
from ..video_vae.diffusion_decoder import DiffusionDecoderConfig
from ..video_vae.diffusion_decoder.vae import DiffusionVAEConfig, DiffusionVideoVAE
from .demo import (_checkpoint_metadata, _randomize, _safetensors_bytes, _transformer_metadata, _write_atomic,
                   demo_components, make_export_folder, upsampler_file_bytes)
from .generate import Components

LTX25_VERSION = "2.5.0"
DEMO25_SECONDS = 2.0  # the tiny duration head's prediction is near this (its output bias is log 2)
DEMO25_FILES = {
    "checkpoint": "ltx-2.5-demo-tiny-transformer.safetensors",
    "text_encoder": "gemma4-demo-tiny-with-proj-ltx-2.5.safetensors",
    "video_vae": "ltx-2.5-demo-tiny-video-vae.safetensors",
    "audio_vae": "ltx-2.5-demo-tiny-audio-vae.safetensors",
    "duration_head": "ltx-2.5-demo-tiny-duration-head.safetensors",
    "upsampler": "ltx-2.5-demo-spatial-upscaler-x2.safetensors",
}


def demo25_tokenizer_json() -> str:
    """tokenizer.json of a byte-fallback BPE without merges: specials, the 256 bytes, '▁' and lowercase letters."""
    from tokenizers import Tokenizer, decoders, models, normalizers

    pieces = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(256)]
    pieces += ["\u2581", *string.ascii_lowercase]
    tokenizer = Tokenizer(models.BPE(vocab={p: i for i, p in enumerate(pieces)}, merges=[], unk_token="<unk>",
                                     byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", "\u2581")
    tokenizer.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    return tokenizer.to_str()


def demo25_components(seed: int = 0, max_length: int = 16, encoders: bool = False,
                      distilled: bool = False) -> Components:
    """All parts of a tiny LTX-2.5 with random weights (deterministic in `seed`): the 2.5 video VAE with the
    diffusion decoder (the 2.3 demo's encoder and latent statistics); audio VAE, vocoder and upsampler are the 2.3
    demo's."""
    base = demo_components(seed=seed, max_length=max_length, encoders=encoders)
    generator = torch.Generator().manual_seed(seed + 25)
    config = TransformerConfig.tiny("2.5", in_channels=16, out_channels=16, audio_in_channels=32,
                                    audio_out_channels=32)
    transformer = _randomize(LTX2Transformer(config), generator)
    tokenizer = Gemma4Tokenizer(demo25_tokenizer_json(), max_length=max_length)
    gemma_config = Gemma4Config.tiny(num_layers=6, vocab_size=tokenizer.vocab_size)
    text = base.text_encoder
    projection = TextProjection(replace(text.projection.config, embedding_dim=gemma_config.hidden_size,
                                        num_states=gemma_config.num_layers + 1))
    text_encoder = TextEncoder(_randomize(Gemma4TextModel(gemma_config), generator), tokenizer,
                               _randomize(projection, generator), text.video_connector, text.audio_connector,
                               max_length=max_length)
    head = _randomize(DurationHead(DurationHeadConfig(video_dim=config.dim, audio_dim=config.audio_dim, hidden=16,
                                                      heads=4, mlp_hidden=8)), generator)
    with torch.no_grad():
        head.mlp_out.bias.fill_(math.log(DEMO25_SECONDS))  # log-seconds: a few seconds, not an extreme
    return replace(base, transformer=transformer, text_encoder=text_encoder, duration_head=head, distilled=distilled,
                   video_vae=_diffusion_vae(base.video_vae, generator), release=Release((2, 5, 0), LTX25_GEMMA))


def _diffusion_vae(conv, generator: torch.Generator) -> DiffusionVideoVAE:
    """A tiny diffusion-decoder VAE over the conv VAE's latent space (its encoder and statistics copied)."""
    decoder = DiffusionDecoderConfig.tiny(conv.config.latent_channels).with_(
        stage_kernels=((3, 1, 1), (3, 1, 1), (3, 3, 3), (3, 3, 3)))
    vae = DiffusionVideoVAE(DiffusionVAEConfig(conv.config, decoder), components=conv.components)
    _randomize(vae.decoder, generator)
    if conv.encoder is not None:
        vae.encoder.load_state_dict(conv.encoder.state_dict())
    vae.per_channel_statistics.load_state_dict(conv.per_channel_statistics.state_dict())
    return vae.eval()


def gemma4_hf_config(g: Gemma4Config) -> dict:
    """The `gemma_config` metadata of the LTX-2.5 text-encoder file (HF `gemma4_unified`, top-level version)."""
    text = {"model_type": "gemma4_text", "vocab_size": g.vocab_size, "hidden_size": g.hidden_size,
            "intermediate_size": g.intermediate_size, "num_hidden_layers": g.num_layers,
            "num_attention_heads": g.num_heads, "num_key_value_heads": g.num_kv_heads, "head_dim": g.head_dim,
            "global_head_dim": g.global_head_dim, "num_global_key_value_heads": g.num_global_kv_heads,
            "attention_k_eq_v": g.attention_k_eq_v, "rms_norm_eps": g.rms_norm_eps,
            "sliding_window": g.sliding_window,
            "layer_types": ["full_attention" if t == "global" else "sliding_attention" for t in g.layer_types],
            "rope_parameters": {
                "full_attention": {"rope_type": "proportional", "rope_theta": g.rope_global_theta,
                                   "partial_rotary_factor": g.global_partial_rotary, "factor": g.rope_global_factor},
                "sliding_attention": {"rope_type": "default", "rope_theta": g.rope_local_theta}},
            "pad_token_id": g.pad_token_id, "bos_token_id": g.bos_token_id, "eos_token_id": list(g.eos_token_ids)}
    return {"model_type": "gemma4_unified", "gemma_version": g.gemma_version, "text_config": text,
            "eos_token_id": list(g.eos_token_ids)}


def ltx25_release_metadata() -> dict:
    """The release metadata every official LTX-2.5 component file carries."""
    return {"model_version": LTX25_VERSION,
            "gemma_source_checkpoint": json.dumps({"ltx_version": LTX25_VERSION, "gemma_version": LTX25_GEMMA})}


def _prefixed(prefix: str, module: torch.nn.Module) -> dict:
    return {prefix + k: v for k, v in module.state_dict().items()}


def save_demo25(parts: Components, folder: str) -> dict:
    """Write the tiny 2.5 as the official per-component files, each atomically: the transformer with both
    connectors (`model.diffusion_model.*`), the Gemma 4 text encoder with the text projection and its embedded
    config / tokenizer.json, the video VAE, the audio VAE + vocoder, the duration head and the spatial x2
    upsampler. Every file carries `model_version` 2.5.0 and `gemma_source_checkpoint`. Returns {role: path}."""
    paths = {role: os.path.join(folder, name) for role, name in DEMO25_FILES.items()}
    text = parts.text_encoder
    sections = _checkpoint_metadata(parts)
    transformer_section = dict(_transformer_metadata(parts.transformer.config, text),
                               **parts.transformer.config.to_metadata()["transformer"])
    dit = {**_prefixed("model.diffusion_model.", parts.transformer),
           **_prefixed("model.diffusion_model.video_embeddings_connector.", text.video_connector),
           **_prefixed("model.diffusion_model.audio_embeddings_connector.", text.audio_connector)}
    _write_atomic(paths["checkpoint"], _safetensors_bytes(
        dit, {"config": json.dumps({"transformer": transformer_section}), **ltx25_release_metadata()}))
    tokenizer_bytes = text.tokenizer.backend.to_str().encode("utf-8")
    encoder = {**_prefixed("model.", text.gemma), **_prefixed("text_embedding_projection.", text.projection),
               "tokenizer_json": torch.frombuffer(bytearray(tokenizer_bytes), dtype=torch.uint8)}
    _write_atomic(paths["text_encoder"], _safetensors_bytes(
        encoder, {"gemma_config": json.dumps(gemma4_hf_config(text.gemma.config)), **ltx25_release_metadata()}))
    _write_atomic(paths["video_vae"], _safetensors_bytes(  # official diffusion-VAE layout: unprefixed keys
        _prefixed("", parts.video_vae), {"config": json.dumps(parts.video_vae.config.to_metadata()),
                                         **ltx25_release_metadata()}))
    audio = {**_prefixed("audio_vae.", parts.audio_vae), **_prefixed("vocoder.", parts.vocoder)}
    _write_atomic(paths["audio_vae"], _safetensors_bytes(audio, {"config": json.dumps(
        {"audio_vae": sections["audio_vae"], "vocoder": sections["vocoder"]}), **ltx25_release_metadata()}))
    head = parts.duration_head
    _write_atomic(paths["duration_head"], _safetensors_bytes(
        _prefixed("duration_head.", head), {"config": json.dumps(head.config.to_metadata()), **ltx25_release_metadata()}))
    _write_atomic(paths["upsampler"], upsampler_file_bytes(parts.upsampler))
    return paths


def export_demo25(folder: str, seed: int = 0) -> dict:
    """`python -m ltx2_core demo --model ltx-2.5 --export FOLDER` (VAE encoders included, for conditioning)."""
    make_export_folder(folder)
    return save_demo25(demo25_components(seed=seed, encoders=True), folder)
