"""Loading the audio VAE and the vocoder from the single-file checkpoint or from separate files.

Sources: a safetensors path or a state-dict Mapping. Accepted key layouts (one table per model):
- audio VAE: `audio_vae.{encoder,decoder,per_channel_statistics}.*` (single file) or the same without
  `audio_vae.` (a separate audio VAE file);
- vocoder: `vocoder.*` (single file; LTX-2.3 nests `vocoder.vocoder.*`, `vocoder.bwe_generator.*`,
  `vocoder.mel_stft.*`) or the same with that one `vocoder.` removed (a separate vocoder file);
- diffusers' `AutoencoderKLLTX2Audio` / `LTX2Vocoder(WithBWE)` names, renamed by the tables below.
Configs come from the metadata `config` JSON (`audio_vae` / `vocoder` sections), else from key shapes.
"""

import os
import re
from typing import Mapping, Optional, Tuple, Union

import torch

from ..checkpoint import load_strict
from ..checkpoint_source import open_checkpoint
from ..errors import CheckpointError
from .audio_vae import AudioVAE
from .bwe import BandwidthExtendedVocoder
from .config import AudioVAEConfig, VocoderConfig
from .vocoder import Vocoder

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]

AUDIO_VAE_PREFIX = "audio_vae."
VOCODER_PREFIX = "vocoder."
AUDIO_VAE_PARTS = ("encoder.", "decoder.", "per_channel_statistics.")
BARE_VOCODER_MARKERS = ("conv_pre.", "bwe_generator.", "mel_stft.")

# diffusers name -> official name, whole dotted segments (diffusers 0.42 LTX-2 audio classes).
DIFFUSERS_AUDIO_VAE_RENAMES = (
    (r"^latents_mean$", "per_channel_statistics.mean-of-means"),
    (r"^latents_std$", "per_channel_statistics.std-of-means"),
)
DIFFUSERS_VOCODER_RENAMES = (
    (r"(^|\.)conv_in\.", r"\1conv_pre."),
    (r"(^|\.)conv_out\.", r"\1conv_post."),
    (r"(^|\.)upsamplers\.", r"\1ups."),
    (r"(^|\.)resnets\.", r"\1resblocks."),
    (r"(^|\.)act_out\.", r"\1act_post."),
    (r"\.downsample\.filter$", ".downsample.lowpass.filter"),
)


def _rename(key: str, table) -> str:
    for pattern, replacement in table:
        key = re.sub(pattern, replacement, key)
    return key


def _audio_vae_key_map(keys) -> dict:
    """Checkpoint key -> module key for the audio VAE."""
    keys = list(keys)
    if any(k.startswith(AUDIO_VAE_PREFIX) for k in keys):
        return {k: k[len(AUDIO_VAE_PREFIX):] for k in keys if k.startswith(AUDIO_VAE_PREFIX)}
    if "latents_mean" in keys:  # diffusers AutoencoderKLLTX2Audio
        return {k: _rename(k, DIFFUSERS_AUDIO_VAE_RENAMES) for k in keys}
    return {k: k for k in keys if k.startswith(AUDIO_VAE_PARTS)}


def _vocoder_key_map(keys) -> dict:
    """Checkpoint key -> module key for the vocoder (strips exactly one leading `vocoder.`)."""
    keys = list(keys)
    if any(re.search(r"(^|\.)(upsamplers|resnets)\.", k) for k in keys):  # diffusers LTX2Vocoder(WithBWE)
        return {k: _rename(k, DIFFUSERS_VOCODER_RENAMES) for k in keys}
    if any(k.startswith(BARE_VOCODER_MARKERS) for k in keys):
        return {k: k for k in keys if not k.startswith(AUDIO_VAE_PREFIX)}
    return {k: k[len(VOCODER_PREFIX):] for k in keys if k.startswith(VOCODER_PREFIX)}


def _describe(source: Source) -> str:
    return os.path.basename(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else "the state dict"


def _read(source: Source, key_map_fn, what: str) -> Tuple[dict, Optional[dict]]:
    """(module-key state dict, metadata config or None) of `source`, reading only the needed tensors."""
    if isinstance(source, (str, os.PathLike)):
        checkpoint = open_checkpoint(source, subfolders=(what.replace(" ", "_").lower(),), what=what)
        key_map = key_map_fn(checkpoint.keys())
        if not key_map:
            raise CheckpointError(f"{_describe(source)} holds no {what} weights. Pick the LTX-2 checkpoint or the "
                                  f"separate {what} file.")
        tensors = checkpoint.load(key_map)
        return {key_map[k]: v for k, v in tensors.items()}, checkpoint.config_metadata()
    if not isinstance(source, Mapping):
        raise CheckpointError(f"Cannot load the {what} from a {type(source).__name__}; give a path or a state dict.")
    key_map = key_map_fn(source.keys())
    if not key_map:
        raise CheckpointError(f"The state dict holds no {what} weights (expected keys like "
                              f"'{AUDIO_VAE_PREFIX if what == 'audio VAE' else VOCODER_PREFIX}...').")
    return {key_map[k]: source[k] for k in key_map}, None


def _to(sd: dict, device, dtype) -> dict:
    return {k: v.to(device=device if device is not None else v.device,
                    dtype=dtype if dtype is not None and v.is_floating_point() else v.dtype) for k, v in sd.items()}


def _config(config_cls, config, meta: Optional[dict], section: str, sd: dict):
    """`config` if it is a `config_cls`, else from the given metadata, the file's `section`, or the key shapes."""
    if isinstance(config, config_cls):
        return config
    if config is not None:
        return config_cls.from_metadata(config)
    if meta is not None and section in meta:
        return config_cls.from_metadata(meta)
    return config_cls.from_state_dict(sd)


def load_audio_vae(source: Source, *, config: Union[AudioVAEConfig, Mapping, None] = None, operations=torch.nn,
                   device=None, dtype: Optional[torch.dtype] = None, encoder: Optional[bool] = None,
                   decoder: Optional[bool] = None) -> AudioVAE:
    """Audio VAE from a checkpoint path or state dict.

    `config`: an `AudioVAEConfig`, a metadata `config` dict, or None (file metadata, else key shapes).
    `encoder` / `decoder`: None loads the halves the file has; True requires one; False skips it.
    """
    sd, meta = _read(source, _audio_vae_key_map, "audio VAE")
    has_enc = any(k.startswith("encoder.") for k in sd)
    has_dec = any(k.startswith("decoder.") for k in sd)
    for name, wanted, present in (("encoder", encoder, has_enc), ("decoder", decoder, has_dec)):
        if wanted and not present:
            raise CheckpointError(f"{_describe(source)} has no audio VAE {name} weights; load it with {name}=False.")
    encoder = has_enc if encoder is None else encoder
    decoder = has_dec if decoder is None else decoder
    sd = {k: v for k, v in sd.items()
          if (encoder or not k.startswith("encoder.")) and (decoder or not k.startswith("decoder."))}
    cfg = _config(AudioVAEConfig, config, meta, "audio_vae", sd)
    model = AudioVAE(cfg, operations=operations, device="meta", encoder=encoder, decoder=decoder)
    return load_strict(model, _to(sd, device, dtype), "audio VAE").eval()


def load_vocoder(source: Source, *, config: Union[VocoderConfig, Mapping, None] = None, operations=torch.nn,
                 device=None, dtype: Optional[torch.dtype] = None) -> Vocoder:
    """Vocoder (HiFi-GAN, or BigVGAN-v2 + BWE kept in float32) from a checkpoint path or state dict."""
    sd, meta = _read(source, _vocoder_key_map, "vocoder")
    cfg = _config(VocoderConfig, config, meta, "vocoder", sd)
    model = Vocoder(cfg, operations=operations, device="meta", dtype=dtype)
    if isinstance(model, BandwidthExtendedVocoder):
        dtype = torch.float64 if dtype == torch.float64 else torch.float32
    return load_strict(model, _to(sd, device, dtype), "vocoder").eval()
