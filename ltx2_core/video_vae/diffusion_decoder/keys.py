"""Key layouts of the diffusion decoder, in one declarative table.

Our module keys ARE the official file layout (`decoder.*` inside a VAE file that also holds `encoder.*`
and `per_channel_statistics.*`; single-file checkpoints add `vae.`). Two things in official files are not
plain weights and are resolved on load, as the official loader does:
- static gates `diff_blocks.i.gate_{msa,mlp,ctx}` (C,) of older exports, folded into the Linear they gate
  (`GATE_FOLDS`: W <- g[:, None] W, b <- g b) and dropped;
- `coarse_*` preview-head weights, dropped.
diffusers (`LTX2VideoDiffusionDecoderModel`) names differ by the renames below, splits `attn.qkv` into
`to_q`/`to_k`/`to_v` (`DIFFUSERS_FUSED`) and stores the statistics as `latents_mean`/`latents_std`.
"""

from typing import Dict, Mapping, Tuple

import torch

from ...errors import CheckpointError

# official / ours  <->  diffusers (substring renames, applied to every key)
DIFFUSERS_RENAMES: Tuple[Tuple[str, str], ...] = (
    (".attn.proj.", ".attn.to_out.0."),
    (".attn.q_norm.", ".attn.norm_q."),
    (".attn.k_norm.", ".attn.norm_k."),
    ("t_embedder.mlp.0.", "t_embedder.timestep_embedder.linear_1."),
    ("t_embedder.mlp.2.", "t_embedder.timestep_embedder.linear_2."),
)
# official fused projection -> the three diffusers projections it stacks (dim 0, in this order)
DIFFUSERS_FUSED: Tuple[str, Tuple[str, str, str]] = (".attn.qkv.", (".attn.to_q.", ".attn.to_k.", ".attn.to_v."))
DIFFUSERS_BUFFERS: Dict[str, str] = {
    "per_channel_statistics.mean-of-means": "latents_mean",
    "per_channel_statistics.std-of-means": "latents_std",
}
# gate key suffix -> the Linear (module path suffix, relative to the block) it scales
GATE_FOLDS: Dict[str, str] = {".gate_msa": ".attn.proj", ".gate_mlp": ".mlp.w_down", ".gate_ctx": ".context_proj"}
DROPPED_PREFIXES: Tuple[str, ...] = ("decoder.coarse_",)


def from_diffusers(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A diffusers `LTX2VideoDiffusionDecoderModel` state dict -> our (official) names."""
    inverse = {v: k for k, v in DIFFUSERS_BUFFERS.items()}
    fused, parts = DIFFUSERS_FUSED
    out, pending = {}, {}
    for key, value in state.items():
        if key in inverse:
            out[inverse[key]] = value
            continue
        part = next((p for p in parts if p in key), None)
        if part is not None:
            pending.setdefault(key.replace(part, fused), {})[part] = value
            continue
        for ours, theirs in DIFFUSERS_RENAMES:
            key = key.replace(theirs, ours)
        out[key] = value
    for key, pieces in pending.items():
        if set(pieces) != set(parts):
            raise CheckpointError(f"diffusers diffusion decoder state: {key} lacks one of to_q / to_k / to_v.")
        out[key] = torch.cat([pieces[p] for p in parts], dim=0)
    return out


def to_diffusers(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our (official) names -> diffusers names (the inverse of `from_diffusers`)."""
    fused, parts = DIFFUSERS_FUSED
    out = {}
    for key, value in state.items():
        if key in DIFFUSERS_BUFFERS:
            out[DIFFUSERS_BUFFERS[key]] = value
            continue
        if fused in key:
            for part, piece in zip(parts, value.chunk(3, dim=0)):
                out[key.replace(fused, part)] = piece
            continue
        for ours, theirs in DIFFUSERS_RENAMES:
            key = key.replace(ours, theirs)
        out[key] = value
    return out


def resolve_official(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Fold the static gates into their Linears and drop gates / coarse-head keys (our names, prefix kept)."""
    out = {k: v for k, v in state.items() if not k.startswith(DROPPED_PREFIXES)}
    for key in [k for k in out if k.endswith(tuple(GATE_FOLDS))]:
        gate = out.pop(key).float()
        suffix = next(s for s in GATE_FOLDS if key.endswith(s))
        target = key[: -len(suffix)] + GATE_FOLDS[suffix]
        for leaf in (".weight", ".bias"):
            name = target + leaf
            if name not in out:
                continue
            value = out[name]
            scaled = gate[:, None] * value.float() if value.ndim == 2 else gate * value.float()
            out[name] = scaled.to(value.dtype)
    return out


def is_gate_or_dropped(key: str) -> bool:
    """Whether a (prefix-stripped) file key is resolved away on load (not a module key)."""
    return key.startswith(DROPPED_PREFIXES) or key.endswith(tuple(GATE_FOLDS))
