"""Checkpoint key layouts of the video VAE (one declarative table) and key-based config detection.

Our module's keys are the official ones without the `vae.` prefix: `encoder.*`, `decoder.*`,
`per_channel_statistics.{mean-of-means,std-of-means}`.
"""

from typing import Dict, Iterable, Mapping, Optional, Tuple

from ..errors import CheckpointError

# Prefixes under which the VAE is stored, tried in order: single-file checkpoints and ComfyUI VAE files
# with the `vae.` prefix, then ComfyUI VAE-only files without it.
PREFIXES: Tuple[str, ...] = ("vae.", "")
PARTS: Tuple[str, ...] = ("encoder.", "decoder.", "per_channel_statistics.")

# Statistics the checkpoints carry but inference does not use (dropped on load).
UNUSED_STATISTICS = frozenset(
    {
        "per_channel_statistics.channel",
        "per_channel_statistics.mean-of-stds",
        "per_channel_statistics.mean-of-stds_over_std-of-means",
    }
)
# Keys whose presence marks a timestep-conditioned decoder.
TIMESTEP_CONDITIONING_KEY = "decoder.timestep_scale_multiplier"


def find_prefix(keys: Iterable[str]) -> Optional[str]:
    """The prefix under which VAE keys are stored, or None when there are none."""
    keys = list(keys)
    for prefix in PREFIXES:
        if any(k.startswith(prefix + part) for k in keys for part in PARTS):
            return prefix
    return None


def select(keys: Iterable[str], prefix: str) -> Dict[str, str]:
    """Map our key name -> checkpoint key name, for the VAE keys under `prefix` (unused stats dropped)."""
    out = {}
    for key in keys:
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        if name.startswith(PARTS) and name not in UNUSED_STATISTICS:
            out[name] = key
    return out


def components_present(names: Iterable[str]) -> Tuple[str, ...]:
    names = list(names)
    return tuple(part for part in ("encoder", "decoder") if any(n.startswith(part + ".") for n in names))


def detect_preset(shapes: Mapping[str, Tuple[int, ...]]):
    """The released config whose keys and shapes equal `shapes` (our names), or a CheckpointError."""
    from .config import VideoVAEConfig  # local: config has no dependency on keys
    from .model import VideoVAE

    components = components_present(shapes)
    if not components:
        raise CheckpointError(
            "No video VAE encoder or decoder weights found (expected 'vae.encoder.*' / 'vae.decoder.*')."
        )
    conditioned = TIMESTEP_CONDITIONING_KEY in shapes
    for name, preset in (("LTX-2", VideoVAEConfig.ltx2()), ("LTX-2.3", VideoVAEConfig.ltx23())):
        config = preset.with_(timestep_conditioning=conditioned)
        expected = {
            k: tuple(v.shape)
            for k, v in VideoVAE(config, device="meta", components=components).state_dict().items()
        }
        if expected == dict(shapes):
            return config
    raise CheckpointError(
        "The video VAE weights match neither the LTX-2 nor the LTX-2.3 layout and the file carries no "
        "'config' metadata with a 'vae' section. Use the official checkpoint or pass its config."
    )
