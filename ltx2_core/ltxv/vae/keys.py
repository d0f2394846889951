"""Checkpoint key layouts of the LTX-Video VAE: ONE rename table and config detection from key shapes.

Our names are the official ones without the `vae.` prefix (`encoder.*`, `decoder.*`,
`per_channel_statistics.*`). Accepted layouts:
- official single file (transformer + VAE): `vae.` prefix;
- VAE-only files (ComfyUI `vae/`, city96 `LTX-Video-VAE-*.safetensors`): no prefix;
- diffusers `AutoencoderKLLTXVideo` (`vae/` folder): blocks grouped into `down_blocks.k` / `mid_block` /
  `up_blocks.k`; the block mapping depends on the block list and is derived from the config
  (`diffusers_names`), the inner renames are `DIFFUSERS_RENAMES`.
"""

from typing import Dict, Iterable, List, Mapping, Tuple

from ...errors import CheckpointError
from ...video_vae.keys import components_present

DIFFUSERS_MARKERS = ("encoder.mid_block.", "decoder.mid_block.", "latents_mean")

# (ours, diffusers) substrings inside a block, applied after the block path mapping; and whole-key renames.
DIFFUSERS_RENAMES: Tuple[Tuple[str, str], ...] = (
    (".res_blocks.", ".resnets."),
    (".conv_shortcut.", ".conv_shortcut.conv."),
    (".norm3.norm.", ".norm3."),
    ("decoder.last_time_embedder.", "decoder.time_embedder."),
    ("decoder.last_scale_shift_table", "decoder.scale_shift_table"),
    ("per_channel_statistics.mean-of-means", "latents_mean"),
    ("per_channel_statistics.std-of-means", "latents_std"),
)


def _encoder_paths(blocks) -> List[str]:
    """Diffusers path of each encoder block: a res_x opens `down_blocks.k`, its resampler is
    `downsamplers.0`, a following res_x_y is `conv_out`; the last res_x is `mid_block`."""
    paths, group = [], -1
    last_res = max(i for i, b in enumerate(blocks) if b.name == "res_x")
    for i, block in enumerate(blocks):
        if i == last_res:
            paths.append("mid_block")
        elif block.name == "res_x":
            group += 1
            paths.append(f"down_blocks.{group}")
        else:
            paths.append(f"down_blocks.{group}." + ("conv_out" if block.name == "res_x_y" else "downsamplers.0"))
    return paths


def _decoder_paths(blocks) -> List[str]:
    """Diffusers path of each decoder block in run order: the first res_x is `mid_block`; then groups
    `up_blocks.k` = [res_x_y -> conv_in] [resampler -> upsamplers.0] res_x (closes the group)."""
    paths, group = [], 0
    for i, block in enumerate(blocks):
        if i == 0:
            paths.append("mid_block")
        elif block.name == "res_x":
            paths.append(f"up_blocks.{group}")
            group += 1
        else:
            paths.append(f"up_blocks.{group}." + ("conv_in" if block.name == "res_x_y" else "upsamplers.0"))
    return paths


def diffusers_names(config, names: Iterable[str]) -> Dict[str, str]:
    """Map our key -> diffusers key for `names` under `config` (an `LTXVVAEConfig`)."""
    if config.decoder_blocks[-1].name != "res_x" or config.encoder_blocks[-1].name != "res_x":
        raise CheckpointError("This LTX-Video VAE block list has no diffusers equivalent (it must end with res_x).")
    blocks = {"encoder.down_blocks.": _encoder_paths(config.encoder_blocks),
              "decoder.up_blocks.": _decoder_paths(tuple(reversed(config.decoder_blocks)))}
    out = {}
    for name in names:
        new = name
        for prefix, paths in blocks.items():
            if name.startswith(prefix):
                index, rest = name[len(prefix):].split(".", 1)
                new = f"{prefix.split('.')[0]}.{paths[int(index)]}.{rest}"
        for ours, theirs in DIFFUSERS_RENAMES:
            new = new.replace(ours, theirs)
        out[name] = new
    return out


def is_diffusers(keys: Iterable[str]) -> bool:
    return any(marker in key for key in keys for marker in DIFFUSERS_MARKERS)


def expected_shapes(config, components) -> Dict[str, Tuple[int, ...]]:
    from .model import LTXVVideoVAE  # local: the model does not depend on keys

    model = LTXVVideoVAE(config, device="meta", components=components)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def detect_config(shapes: Mapping[str, Tuple[int, ...]]):
    """The released VAE (0.9.0 / 0.9.1 / 0.9.5 layout) whose keys and shapes equal `shapes` (our names)."""
    from .config import PRESETS, LTXVVAEConfig

    components = components_present(shapes)
    if not components:
        raise CheckpointError("No LTX-Video VAE encoder or decoder weights found (expected 'vae.encoder.*' / "
                              "'vae.decoder.*').")
    for version in PRESETS:
        config = LTXVVAEConfig.preset(version)
        if expected_shapes(config, components) == dict(shapes):
            return config
    raise CheckpointError(
        "The VAE weights match none of the LTX-Video 0.9.0 / 0.9.1 / 0.9.5 layouts and the file has no 'config' "
        "metadata with a 'vae' section. Use an official LTX-Video file or pass config=."
    )
