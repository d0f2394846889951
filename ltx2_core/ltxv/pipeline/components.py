"""Loading an LTX-Video generation setup from files: transformer + VAE (one official file, or separate),
the T5 text encoder, optionally the latent upsampler; family checks with one-line errors."""

import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple

import torch

from ...errors import CheckpointError, InputError
from ..detect import model_family
from .schedules import LTXVScheduler

T5_MAX_LENGTH = 256  # official pipeline text_encoder_max_tokens (0.9.5+); 0.9.0 / 0.9.1 used 128
T5_MAX_LENGTH_OLD = 128


@dataclass
class LTXVComponents:
    """What `generate` needs. metadata: the checkpoint's parsed `config` JSON ({} when absent)."""
    transformer: Any
    vae: Any
    text_encoder: Any
    upsampler: Any = None
    metadata: dict = field(default_factory=dict)
    distilled: bool = False

    @property
    def scheduler(self) -> LTXVScheduler:
        return LTXVScheduler.from_metadata(self.metadata.get("scheduler"))

    @property
    def allowed_sigmas(self) -> Optional[Tuple[float, ...]]:
        steps = self.metadata.get("allowed_inference_steps")
        return tuple(float(s) for s in steps) if steps else None


def _names_and_metadata(path: str) -> Tuple[list, dict]:
    """Tensor names and parsed `config` metadata of a safetensors / GGUF file (header only)."""
    if path.endswith(".gguf"):
        from ...gguf.reader import GGUFFile

        file = GGUFFile(path)
        raw = file.field("config")
        try:
            metadata = json.loads(raw) if isinstance(raw, str) else {}
        except ValueError:
            metadata = {}
        return list(file.infos), metadata if isinstance(metadata, dict) else {}
    from ...checkpoint import read_safetensors_header

    header = read_safetensors_header(path)
    raw = (header.get("__metadata__") or {}).get("config")
    try:
        metadata = json.loads(raw) if raw else {}
    except ValueError:
        metadata = {}
    return [k for k in header if k != "__metadata__"], metadata if isinstance(metadata, dict) else {}


def checkpoint_family(path: str) -> Optional[str]:
    """"ltx-video", "ltx-2", "ltx-2.5", "t5" or None for a checkpoint file (reads the header only)."""
    from ...text.t5.detect import is_t5_checkpoint

    if os.path.isdir(path):
        return None
    names, metadata = _names_and_metadata(path)
    if is_t5_checkpoint(names):
        return "t5"
    return model_family(names, metadata)


def text_encoder_kind(path: str) -> Optional[str]:
    """"t5", "gemma" or None for a text-encoder path (folder config.json, or the file's tensor names)."""
    from ...text.t5.detect import is_t5_checkpoint

    if os.path.isdir(path):
        for sub in ("", "text_encoder"):
            cfg = os.path.join(path, sub, "config.json")
            if os.path.isfile(cfg):
                try:
                    with open(cfg, encoding="utf-8") as handle:
                        kind = str(json.load(handle).get("model_type", ""))
                except (OSError, ValueError):
                    return None
                return "t5" if kind.startswith("t5") else "gemma" if "gemma" in kind else None
        return None
    if not os.path.isfile(path):
        return None
    names, _ = _names_and_metadata(path)
    if is_t5_checkpoint(names):
        return "t5"
    if any("layers." in n and ("self_attn" in n or "mlp" in n) for n in names) or any(
            n.startswith("blk.") for n in names):
        return "gemma"
    return None


def check_ltxv_files(checkpoint: str, text_encoder: str) -> None:
    """One line when the checkpoint is not LTX-Video or the text encoder is not T5."""
    if not os.path.exists(checkpoint):
        raise InputError(f"Checkpoint not found: {checkpoint!r}.")
    family = checkpoint_family(checkpoint)
    if family == "t5":
        raise CheckpointError(f"{os.path.basename(checkpoint)} is a T5 text encoder, not a diffusion-model "
                              "checkpoint: pass it as --text-encoder and give the LTX-Video file as --checkpoint.")
    if family != "ltx-video":
        raise CheckpointError(f"{os.path.basename(checkpoint)} is not an LTX-Video checkpoint (found "
                              f"{family or 'no known model'}): give an LTX-Video 0.9.x file.")
    kind = text_encoder_kind(text_encoder)
    if kind == "gemma":
        raise CheckpointError(f"{os.path.basename(os.path.normpath(text_encoder))} is a Gemma text encoder (LTX-2); "
                              "LTX-Video needs a T5-XXL encoder (HF folder, t5xxl safetensors or T5 GGUF).")


def load_ltxv_components(checkpoint: str, *, text_encoder: str, vae: Optional[str] = None,
                         upsampler: Optional[str] = None, tokenizer: Optional[str] = None,
                         dtype: torch.dtype = torch.float32, device="cpu",
                         loras: Sequence[Tuple[str, float]] = (), distilled: Optional[bool] = None,
                         max_length: Optional[int] = None) -> LTXVComponents:
    """Load an LTX-Video setup. checkpoint: an official single file (transformer + `vae.*`), or a transformer
    file with `vae=`; text_encoder: a T5 folder / file / GGUF (`tokenizer=`: spiece.model when not beside it);
    upsampler: a latent upsampler file (multi-scale); loras: [(path, strength)]; distilled: None = guessed from
    the file (`allowed_inference_steps` metadata)."""
    from ...checkpoint import load_safetensors
    from ...text.t5 import load_t5_encoder
    from ..transformer import apply_ltxv_loras, load_ltxv_transformer
    from ..upsampler import load_ltxv_upsampler
    from ..vae import load_ltxv_vae

    check_ltxv_files(checkpoint, text_encoder)
    _, metadata = _names_and_metadata(checkpoint)
    transformer = load_ltxv_transformer(checkpoint, dtype=dtype, device=device)
    if loras:
        apply_ltxv_loras(transformer, [(load_safetensors(p), float(s)) for p, s in loras])
    video_vae = load_ltxv_vae(vae or checkpoint, dtype=dtype, device=device)
    if video_vae.latent_channels != transformer.config.in_channels:
        raise CheckpointError(f"The VAE has {video_vae.latent_channels} latent channels but the transformer takes "
                              f"{transformer.config.in_channels}: use the VAE of this LTX-Video model.")
    if max_length is None:
        max_length = T5_MAX_LENGTH if transformer.config.causal_temporal_positioning else T5_MAX_LENGTH_OLD
    encoder = load_t5_encoder(text_encoder, tokenizer=tokenizer, max_length=max_length, dtype=dtype, device=device)
    if encoder.model.config.d_model != transformer.config.caption_channels:
        raise CheckpointError(f"The T5 encoder gives {encoder.model.config.d_model}-wide states but the transformer "
                              f"takes {transformer.config.caption_channels}: use the T5-XXL encoder.")
    up = None
    if upsampler is not None:
        up = load_ltxv_upsampler(upsampler, dtype=dtype, device=device)
        if up.config.in_channels != video_vae.latent_channels:
            raise CheckpointError("The latent upsampler does not fit this VAE's latent channels: use the LTX-Video "
                                  "upsampler.")
    if distilled is None:
        distilled = bool(metadata.get("allowed_inference_steps"))
    return LTXVComponents(transformer, video_vae, encoder, up, metadata, bool(distilled))
