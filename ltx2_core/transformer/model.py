"""`LTX2Transformer`: the LTX-2 / LTX-2.3 / LTX-2.5 audio-video diffusion transformer (velocity prediction).

model(video, audio, perturbations) -> (video_velocity (B, T_v, C) | None, audio_velocity (B, T_a, C) | None).
Either stream may be None (video-only / audio-only passes); the audio<->video exchange runs only
when both are present.
"""

import dataclasses
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..attention import AttentionFn, sdpa_attention
from ..errors import InputError
from ..ops import cast_like
from .block import Modulation, StreamState, TransformerBlock
from .config import TransformerConfig
from .inputs import ModalityInput, Perturbations
from .layers import AdaLayerNormSingle, TextProjection
from .rope import rope_from_positions
from .step_cache import CacheSlot


def _per_item_sigma(sigma: torch.Tensor, batch: int) -> torch.Tensor:
    return sigma.reshape(-1).expand(batch) if sigma.numel() == 1 else sigma.reshape(batch)


class LTX2Transformer(nn.Module):
    """Module names and parameter keys equal the official checkpoints (after `model.diffusion_model.`)."""

    def __init__(self, config: TransformerConfig, *, operations=nn, attention_fn: AttentionFn = sdpa_attention,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.config = c = config
        kw = dict(operations=operations, device=device, dtype=dtype)
        for prefix, dim, in_ch, out_ch in (("", c.dim, c.in_channels, c.out_channels),
                                            ("audio_", c.audio_dim, c.audio_in_channels, c.audio_out_channels)):
            setattr(self, prefix + "patchify_proj",
                    operations.Linear(in_ch, dim, bias=True, device=device, dtype=dtype))
            if c.caption_channels is not None:
                setattr(self, prefix + "caption_projection", TextProjection(c.caption_channels, dim, **kw))
            setattr(self, prefix + "adaln_single", AdaLayerNormSingle(dim, c.adaln_rows, **kw))
            if c.cross_attention_adaln:
                setattr(self, prefix + "prompt_adaln_single", AdaLayerNormSingle(dim, 2, **kw))
            setattr(self, prefix + "scale_shift_table", nn.Parameter(torch.empty(2, dim, device=device, dtype=dtype)))
            setattr(self, prefix + "proj_out", operations.Linear(dim, out_ch, bias=True, device=device, dtype=dtype))
        if c.keyframe_marker:
            self.keyframes_abs_pos_embedding = nn.Parameter(torch.empty(1, c.dim, device=device, dtype=dtype))
        self.av_ca_video_scale_shift_adaln_single = AdaLayerNormSingle(c.dim, 4, **kw)
        self.av_ca_audio_scale_shift_adaln_single = AdaLayerNormSingle(c.audio_dim, 4, **kw)
        self.av_ca_a2v_gate_adaln_single = AdaLayerNormSingle(c.dim, 1, **kw)
        self.av_ca_v2a_gate_adaln_single = AdaLayerNormSingle(c.audio_dim, 1, **kw)
        self.transformer_blocks = nn.ModuleList(
            TransformerBlock(c, attention_fn=attention_fn, **kw) for _ in range(c.num_layers))

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype activations run in: the input projection's (AdaLN tables may stay float32 as stored)."""
        return self.patchify_proj.weight.dtype

    # ------------------------------------------------------------------ preparation
    def _modulation(self, adaln: AdaLayerNormSingle, timesteps: torch.Tensor, dtype: torch.dtype) -> Tuple[
            Modulation, Modulation]:
        """AdaLN of scaled timesteps (B, T), computed once per distinct value."""
        values, index = torch.unique(timesteps, return_inverse=True)
        if index.shape[1] > 1 and bool((index == index[:, :1]).all()):
            index = index[:, :1]
        modulation, embedded = adaln(values, dtype)
        return Modulation(modulation, index), Modulation(embedded, index)

    def _stream(self, m: ModalityInput, prefix: str, heads: int, max_pos, x: torch.Tensor) -> Tuple[
            StreamState, Modulation]:
        c, dtype = self.config, x.dtype
        batch = x.shape[0]
        timesteps = m.timesteps.reshape(batch, -1) * c.timestep_scale_multiplier  # (B, T)
        modulation, embedded = self._modulation(getattr(self, prefix + "adaln_single"), timesteps, dtype)
        prompt = None
        if c.cross_attention_adaln:
            sigma = _per_item_sigma(m.sigma, batch) * c.timestep_scale_multiplier
            prompt, _ = getattr(self, prefix + "prompt_adaln_single")(sigma, dtype)
            prompt = prompt.view(batch, 1, -1)  # (B, 1, 2*D)
        context = m.context.to(dtype)
        projection = getattr(self, prefix + "caption_projection", None)
        if projection is not None:
            context = projection(context)
        context_mask = None
        if m.context_mask is not None:
            mask = m.context_mask.to(dtype)
            context_mask = ((mask - 1) * torch.finfo(dtype).max).view(batch, 1, 1, -1)  # (B, 1, 1, L) additive
        self_mask = None
        if m.attention_mask is not None:
            weights = m.attention_mask
            bias = torch.full_like(weights, torch.finfo(dtype).min, dtype=dtype)
            positive = weights > 0
            bias[positive] = torch.log(weights[positive].clamp(min=torch.finfo(dtype).tiny)).to(dtype)
            self_mask = bias.unsqueeze(1)  # (B, 1, T, T)
        rope = rope_from_positions(m.positions, max_pos=max_pos, width=x.shape[-1], heads=heads,
                                   rope_type=c.rope_type, theta=c.rope_theta,
                                   double_precision=c.rope_double_precision, dtype=dtype)
        state = StreamState(modulation=modulation, context=context, context_mask=context_mask, self_mask=self_mask,
                            rope=rope, prompt=prompt, enabled=m.enabled)
        return state, embedded

    def _cross(self, state: StreamState, m: ModalityInput, other: ModalityInput, prefix: str, heads: int,
               x: torch.Tensor) -> StreamState:
        """Adds the audio<->video cross-attention RoPE and AdaLN inputs to a stream's state."""
        c, batch, dtype = self.config, x.shape[0], x.dtype
        mult = c.timestep_scale_multiplier
        own = m.timesteps.reshape(batch, -1) * mult  # (B, T)
        other_sigma = (_per_item_sigma(other.sigma, batch) * mult).view(batch, 1)  # (B, 1)
        scale_shift_t = other_sigma if c.cross_modulation == "other_sigma" else own
        gate_t = own if c.cross_modulation == "own_timesteps" else other_sigma
        gate_t = gate_t * (c.av_ca_timestep_scale_multiplier / mult)
        name = "video" if prefix == "" else "audio"
        gate_name = "av_ca_a2v_gate_adaln_single" if prefix == "" else "av_ca_v2a_gate_adaln_single"
        scale_shift, _ = self._modulation(getattr(self, f"av_ca_{name}_scale_shift_adaln_single"), scale_shift_t, dtype)
        gate, _ = self._modulation(getattr(self, gate_name), gate_t, dtype)
        cross_max_pos = (max(c.rope_max_pos[0], c.audio_rope_max_pos[0]),)
        cross_rope = rope_from_positions(m.positions[:, 0:1], max_pos=cross_max_pos, width=c.audio_cross_attention_dim,
                                         heads=heads, rope_type=c.rope_type, theta=c.rope_theta,
                                         double_precision=c.rope_double_precision, dtype=dtype)
        return dataclasses.replace(state, cross_rope=cross_rope, cross_scale_shift=scale_shift, cross_gate=gate)

    def _output(self, x: torch.Tensor, embedded: Modulation, prefix: str) -> torch.Tensor:
        table = cast_like(getattr(self, prefix + "scale_shift_table"), x)
        emb = embedded.values[embedded.index]  # (B, T', D)
        shift, scale = table[0] + emb, table[1] + emb
        x = F.layer_norm(x, (x.shape[-1],), eps=self.config.norm_eps) * (1 + scale) + shift
        return getattr(self, prefix + "proj_out")(x)

    # ------------------------------------------------------------------ forward
    def forward(self, video: Optional[ModalityInput], audio: Optional[ModalityInput],
                perturbations: Optional[Perturbations] = None, *, step_cache: Optional[CacheSlot] = None,
                blocks: Optional[Sequence[Callable]] = None) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """step_cache: the `StepCache` slot of this kind of call (reuses the residual of blocks 1.. when block 0
        barely changed); blocks: callables standing in for `transformer_blocks` (compiled ones, see
        ltx2_core.compile)."""
        c = self.config
        if video is None and audio is None:
            raise InputError("LTX2Transformer needs at least one of video / audio inputs.")
        if video is not None:
            video.validate("video", 3)
        if audio is not None:
            audio.validate("audio", 1)
        batch = (video or audio).latent.shape[0]
        if video is not None and audio is not None and audio.latent.shape[0] != batch:
            raise InputError(f"video and audio batch sizes differ ({batch} vs {audio.latent.shape[0]}).")
        perturbations = perturbations or Perturbations.none(batch)
        if len(perturbations.items) != batch:
            raise InputError(f"Perturbations describe {len(perturbations.items)} items but the batch has {batch}.")

        vx = self.patchify_proj(video.latent) if video is not None else None  # (B, T_v, D_v)
        if vx is not None and c.keyframe_marker and video.keyframes_mask is not None:
            marked = (video.keyframes_mask.reshape(batch, -1, 1) > 0).to(vx.dtype)  # (B, T_v, 1)
            vx = vx + marked * cast_like(self.keyframes_abs_pos_embedding, vx)
        ax = self.audio_patchify_proj(audio.latent) if audio is not None else None  # (B, T_a, D_a)
        v_state = a_state = v_emb = a_emb = None
        if video is not None:
            v_state, v_emb = self._stream(video, "", c.heads, c.rope_max_pos, vx)
        if audio is not None:
            a_state, a_emb = self._stream(audio, "audio_", c.audio_heads, c.audio_rope_max_pos, ax)
        if video is not None and audio is not None:
            v_state = self._cross(v_state, video, audio, "", c.heads, vx)
            a_state = self._cross(a_state, audio, video, "audio_", c.audio_heads, ax)

        like = vx if vx is not None else ax
        blocks = self.transformer_blocks if blocks is None else blocks

        def run(vx, ax, start: int, stop: int):
            for index in range(start, stop):
                keeps = tuple(perturbations.keep(kind, index, like)
                              for kind in ("video_self_attn", "audio_self_attn", "a2v", "v2a"))
                vx, ax = blocks[index](vx, ax, v_state, a_state, keeps)
            return vx, ax

        vx, ax = run(vx, ax, 0, len(blocks)) if step_cache is None else step_cache.run(run, vx, ax, len(blocks))

        video_out = self._output(vx, v_emb, "") if vx is not None else None
        audio_out = self._output(ax, a_emb, "audio_") if ax is not None else None
        return video_out, audio_out
