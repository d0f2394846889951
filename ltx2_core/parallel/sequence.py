"""`SequenceParallel`: runs an `LTX2Transformer` with its video tokens split over the ranks of a group.

Per call: the video tokens are padded to a multiple of the world size (zero latents; positions and
per-token timesteps repeat the last token, so padding adds no new timestep value), each rank keeps its
slice of latent / timesteps / positions (the conditioning self-mask stays whole: after the all-to-all
the attention sees every query), the model runs, and the video velocity is gathered and unpadded.
The audio stream is replicated (its tokens are few: about 1/25 of the video's per second of a 768x512
clip): every rank runs it whole and rank 0's audio velocity is broadcast so the ranks never drift.
Inside the blocks only two attentions talk to other ranks (`install`): video self-attention
(Ulysses all-to-all) and video->audio cross-attention (audio queries gather the video keys). Text
cross-attention and audio->video attention read only local queries against replicated keys.
"""

import dataclasses
from typing import Optional, Tuple

import torch
from torch import nn

from ..errors import InputError
from ..transformer.inputs import ModalityInput, Perturbations
from .group import Collectives
from .ulysses import GatheredKeysAttention, ShardLayout, UlyssesAttention


def install(model: nn.Module, comm: Collectives, layout: ShardLayout) -> None:
    """Wraps the attention function of every block's video self-attention and video->audio attention."""
    for block in model.transformer_blocks:
        block.attn1.attention_fn = UlyssesAttention(block.attn1.attention_fn, comm, layout)
        block.video_to_audio_attn.attention_fn = GatheredKeysAttention(
            block.video_to_audio_attn.attention_fn, comm, layout)


def _pad_tokens(x: torch.Tensor, dim: int, padded: int, zeros: bool) -> torch.Tensor:
    missing = padded - x.shape[dim]
    if missing == 0:
        return x
    edge = x.narrow(dim, x.shape[dim] - 1, 1)
    fill = torch.zeros_like(edge) if zeros else edge
    return torch.cat([x, fill.expand(*[missing if d == dim else -1 for d in range(x.dim())])], dim=dim)


def shard_video(m: ModalityInput, rank: int, world: int) -> ModalityInput:
    """This rank's slice of the padded video tokens (latent (B, S, C), timesteps (B, S), positions (B, n, S, 2),
    keyframes_mask (B, S))."""
    tokens = m.latent.shape[1]
    padded = -(-tokens // world) * world
    local = padded // world
    start = rank * local
    latent = _pad_tokens(m.latent, 1, padded, zeros=True).narrow(1, start, local)
    timesteps = _pad_tokens(m.timesteps.reshape(m.latent.shape[0], -1).expand(-1, tokens), 1, padded, False)
    positions = _pad_tokens(m.positions, 2, padded, zeros=False).narrow(2, start, local)
    marks = m.keyframes_mask  # (B, T) or (B, T, 1): the padding is not a keyframe
    if marks is not None:
        marks = _pad_tokens(marks, 1, padded, zeros=True).narrow(1, start, local)
    return dataclasses.replace(m, latent=latent, timesteps=timesteps.narrow(1, start, local), positions=positions,
                               keyframes_mask=marks)


class SequenceParallel(nn.Module):
    """Callable like the model: (video, audio, perturbations) -> (video_velocity, audio_velocity), same on
    every rank. Every rank must make the same calls with the same inputs (the sampler runs replicated)."""

    def __init__(self, model: nn.Module, comm: Optional[Collectives] = None) -> None:
        super().__init__()
        self.model = model
        self.comm = comm or Collectives()
        self.layout = ShardLayout()
        install(model, self.comm, self.layout)

    @property
    def config(self):
        return self.model.config

    def forward(self, video: Optional[ModalityInput], audio: Optional[ModalityInput],
                perturbations: Optional[Perturbations] = None, *, step_cache=None,
                blocks=None) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        if step_cache is not None:
            raise InputError("The step cache is not supported with sequence parallelism: turn it off "
                             "(step_cache=None / no --step-cache) or run on one process.")
        comm = self.comm
        if video is not None:
            video.validate("video", 3)
            self.layout.tokens = video.latent.shape[1]
            video = shard_video(video, comm.rank, comm.world)
        v_out, a_out = self.model(video, audio, perturbations, blocks=blocks)
        if v_out is not None:
            v_out = comm.all_gather(v_out, dim=1)[:, :self.layout.tokens]  # (B, T, C)
        if a_out is not None and video is not None:
            a_out = comm.broadcast(a_out)
        return v_out, a_out
