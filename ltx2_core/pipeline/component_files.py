"""Which file each component of `load_components` comes from, and loading the transformer and the text
encoder from safetensors or GGUF files, as the ComfyUI loader nodes accept them.

A GGUF transformer keeps its weights packed (`QuantOps`, dequantized per layer) with LoRAs attached as
per-layer patches; a GGUF Gemma gets its tokenizer rebuilt from the file's vocabulary. A GGUF or
transformer-only checkpoint holds no VAEs: the check here names the argument / CLI option to pass.
"""

import json
import os
from typing import Optional, Sequence, Tuple

import torch

from ..attention import sdpa_attention
from ..errors import CheckpointError, InputError
from .lora import load_lora, merge_loras


def is_gguf_file(path: str) -> bool:
    """Whether `path` is a GGUF file (by its magic bytes, whatever its name); folders are not."""
    from ..gguf.reader import GGUF_MAGIC

    if not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(len(GGUF_MAGIC)) == GGUF_MAGIC


# Component -> (key prefix in a single-file checkpoint, load_components argument, CLI option).
_PARTS = {"video VAE": ("vae.", "video_vae", "--video-vae"), "audio VAE": ("audio_vae.", "audio_vae", "--audio-vae"),
          "vocoder": ("vocoder.", "audio_vae", "--audio-vae")}


def component_files(checkpoint: str, video_vae: Optional[str], audio_vae: Optional[str],
                     vocoder: Optional[str]) -> Tuple[str, str, str]:
    """The files the video VAE, audio VAE and vocoder come from; one line naming what to pass when the
    checkpoint they default to (a GGUF or transformer-only file) lacks them. Reads headers only."""
    vocoder = vocoder or audio_vae
    given = {"video VAE": video_vae, "audio VAE": audio_vae, "vocoder": vocoder}
    if all(given.values()):
        return video_vae, audio_vae, vocoder
    if is_gguf_file(checkpoint):
        missing = [name for name, path in given.items() if path is None]
    else:
        from ..checkpoint_source import open_checkpoint

        keys = open_checkpoint(checkpoint, what="checkpoint").keys()
        missing = [name for name, path in given.items()
                   if path is None and not any(k.startswith(_PARTS[name][0]) for k in keys)]
    if missing:
        arguments = list(dict.fromkeys(_PARTS[name][1] + "=" for name in missing))
        options = list(dict.fromkeys(_PARTS[name][2] for name in missing))
        names = ", ".join(missing[:-1]) + " or " + missing[-1] if len(missing) > 1 else missing[0]
        raise InputError(
            f"{os.path.basename(checkpoint)} holds no {names}: pass the file(s) holding them with "
            f"{' and '.join(options)} (load_components: {', '.join(arguments)}), e.g. the official single-file "
            "checkpoint; the audio VAE file also gives the vocoder."
        )
    return video_vae or checkpoint, audio_vae or checkpoint, vocoder or checkpoint


def load_transformer_file(checkpoint: str, loras: Sequence[Tuple[str, float]], dtype, device,
                          attention_fn=sdpa_attention) -> torch.nn.Module:
    """The transformer from a safetensors file (LoRAs merged) or a GGUF file (packed, LoRAs as layer patches)."""
    if not is_gguf_file(checkpoint):
        from ..transformer.loader import load_transformer

        transformer = load_transformer(checkpoint, attention_fn=attention_fn, dtype=dtype, device=device).eval()
        if loras:
            merge_loras(transformer, [(load_lora(path), strength) for path, strength in loras])
        return transformer
    from ..gguf.loader import load_transformer_gguf
    from ..gguf.ops import LowRankPatch, add_weight_patches

    transformer = load_transformer_gguf(checkpoint, attention_fn=attention_fn, dtype=dtype, device=device).eval()
    modules = dict(transformer.named_modules())
    for path, strength in loras:
        layers = load_lora(path)
        unknown = [target for target in layers if target not in modules]
        if unknown:
            raise InputError(f"LoRA {os.path.basename(path)} targets {len(unknown)} layer(s) this transformer does "
                             f"not have (e.g. {unknown[0]!r}): it was trained for another model or version.")
        add_weight_patches(transformer, {target: LowRankPatch(up=layer.up.to(device), down=layer.down.to(device),
                                                              scale=layer.scale * float(strength))
                                         for target, layer in layers.items()})
    return transformer


def load_text_encoder_files(path: str, checkpoint: str, dtype, device, attention_fn=sdpa_attention):
    """Gemma (folder, safetensors or GGUF) + the text projection and connectors of the LTX checkpoint
    (safetensors or GGUF); GGUF weights stay packed (QuantOps), as in the ComfyUI text-encoder loader."""
    from ..release import check_text_encoder_file
    from ..text import load_text_encoder

    kind = check_text_encoder_file(path, checkpoint)
    if kind.family == "gemma4":
        return _load_gemma4_files(path, checkpoint, dtype, device, attention_fn)
    gemma_gguf = os.path.isfile(path) and is_gguf_file(path)
    checkpoint_gguf = is_gguf_file(checkpoint)
    kwargs = dict(dtype=dtype, device=device, attention_fn=attention_fn)
    if gemma_gguf or checkpoint_gguf:
        from ..gguf.ops import QuantOps

        kwargs["operations"] = QuantOps
    ltx_source = checkpoint
    if checkpoint_gguf:
        ltx_source, kwargs["metadata"] = _gguf_text_tensors(checkpoint, dtype)
    if not gemma_gguf:
        return load_text_encoder(path, ltx_source, **kwargs)
    from ..gguf.keys import GEMMA_ARCH
    from ..gguf.loader import gemma_config_from_gguf, gemma_tokenizer_from_gguf
    from ..gguf.reader import GGUFFile

    file = GGUFFile(path)
    file.check_architecture((GEMMA_ARCH,), "Gemma 3 text encoder")
    return load_text_encoder(file.state_dict(dtype=dtype), ltx_source, tokenizer=gemma_tokenizer_from_gguf(path),
                             gemma_config=gemma_config_from_gguf(file), **kwargs)


def _load_gemma4_files(path: str, checkpoint: str, dtype, device, attention_fn):
    """The LTX-2.5 text path: Gemma 4 file + the connectors of the 2.5 transformer (safetensors or GGUF)."""
    from ..gguf.ops import QuantOps
    from ..text.gemma4 import load_gemma4_text_encoder

    if not is_gguf_file(checkpoint):
        return load_gemma4_text_encoder(path, checkpoint, dtype=dtype, device=device, attention_fn=attention_fn)
    connectors, config = _gguf_text_tensors(checkpoint, dtype)
    return load_gemma4_text_encoder(path, connectors, dit_metadata={"config": config} if config else {},
                                    operations=QuantOps, dtype=dtype, device=device, attention_fn=attention_fn)


def _gguf_text_tensors(checkpoint: str, dtype) -> Tuple[dict, Optional[dict]]:
    """(text projection + connector tensors, the stored LTX `config`) of a GGUF transformer file."""
    from ..gguf.loader import gguf_metadata
    from ..gguf.reader import GGUFFile

    file = GGUFFile(checkpoint)
    prefixes = ("text_embedding_projection.", "video_embeddings_connector.", "audio_embeddings_connector.")
    names = [n for n in file.infos if n.startswith(prefixes)]
    if not names:
        raise CheckpointError(f"{file.name} carries no text projection or connectors: convert the official "
                              "single-file checkpoint with python -m ltx2_core.convert (it keeps them).")
    raw = gguf_metadata(file).get("config")
    try:
        metadata = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        raise CheckpointError(f"{file.name}: the stored 'config' metadata is not valid JSON. Re-convert the file.") \
            from None
    return file.state_dict(dtype=dtype, names=names), metadata
