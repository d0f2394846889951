"""One dual-stream block: video/audio self-attention, text cross-attention, audio<->video exchange, FFNs.

Order (official): video self-attn -> video text cross-attn -> audio self-attn -> audio text
cross-attn -> a2v and v2a (both read the states from before the exchange) -> video FFN -> audio FFN.
Pre-norms are weightless RMSNorm modulated by AdaLN rows (shift, scale, gate, ...); the AV tables
order their rows (scale_a2v, shift_a2v, scale_v2a, shift_v2a, gate).
"""

from dataclasses import dataclass
from typing import Optional, Tuple, Union

import torch
from torch import nn

from ..attention import AttentionFn, sdpa_attention
from ..ops import cast_like
from .config import TransformerConfig
from .layers import Attention, FeedForward, rms_norm
from .rope import Rope


@dataclass(frozen=True)
class Modulation:
    """AdaLN vectors stored once per distinct timestep: `values` (U, rows*D), `index` (B, T') into it
    (T' is 1 when every token of an item shares its timestep)."""

    values: torch.Tensor
    index: torch.Tensor

    def rows(self, table: torch.Tensor, start: int, stop: int, one_plus: Tuple[int, ...] = ()) -> Tuple[
            torch.Tensor, ...]:
        """table[start:stop] + modulation rows start..stop-1, each (B, T', D); rows listed in
        `one_plus` come as 1 + row (done before expanding to tokens, where it is cheap)."""
        count, dim = table.shape
        rows = cast_like(table, self.values)[start:stop] + self.values.view(-1, count, dim)[:, start:stop]  # (U, k, D)
        if one_plus:
            offsets = torch.zeros(stop - start, 1, dtype=rows.dtype, device=rows.device)
            offsets[[i - start for i in one_plus]] = 1
            rows = offsets + rows
        return rows[self.index].unbind(dim=2)  # k x (B, T', D)


@dataclass(frozen=True)
class StreamState:
    """Everything a block needs about one stream besides its hidden state."""

    modulation: Modulation  # main AdaLN rows (6 or 9)
    context: torch.Tensor  # (B, L, D_ctx)
    context_mask: Optional[torch.Tensor]  # additive (B, 1, 1, L)
    self_mask: Optional[torch.Tensor]  # additive (B, 1, T, T)
    rope: Rope
    prompt: Optional[torch.Tensor] = None  # (B, 1, 2*D) prompt AdaLN (LTX-2.3)
    cross_rope: Optional[Rope] = None
    cross_scale_shift: Optional[Modulation] = None  # 4 rows
    cross_gate: Optional[Modulation] = None  # 1 row
    enabled: bool = True  # False: the stream's tokens pass the block unchanged (see ModalityInput.enabled)


Keep = Union[None, bool, torch.Tensor]


class TransformerBlock(nn.Module):
    """Keys as in the official checkpoints (`transformer_blocks.{i}.*`)."""

    def __init__(self, config: TransformerConfig, *, operations=nn, attention_fn: AttentionFn = sdpa_attention,
                 device=None, dtype=None) -> None:
        super().__init__()
        c = config
        self.eps = c.norm_eps
        self.adaln = c.cross_attention_adaln
        common = dict(gated=c.gated_attention, norm_eps=c.norm_eps, operations=operations, attention_fn=attention_fn,
                      device=device, dtype=dtype)
        rows = c.adaln_rows

        def table(n: int, d: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(n, d, device=device, dtype=dtype))

        self.attn1 = Attention(c.dim, heads=c.heads, head_dim=c.head_dim, **common)
        self.attn2 = Attention(c.dim, c.cross_attention_dim, heads=c.heads, head_dim=c.head_dim, **common)
        self.ff = FeedForward(c.dim, bias=c.ff_bias, operations=operations, device=device, dtype=dtype)
        self.scale_shift_table = table(rows, c.dim)
        self.audio_attn1 = Attention(c.audio_dim, heads=c.audio_heads, head_dim=c.audio_head_dim, **common)
        self.audio_attn2 = Attention(c.audio_dim, c.audio_cross_attention_dim, heads=c.audio_heads,
                                     head_dim=c.audio_head_dim, **common)
        self.audio_ff = FeedForward(c.audio_dim, bias=c.audio_ff_bias, operations=operations, device=device,
                                    dtype=dtype)
        self.audio_scale_shift_table = table(rows, c.audio_dim)
        # Both exchange directions use the audio head geometry.
        self.audio_to_video_attn = Attention(c.dim, c.audio_dim, heads=c.audio_heads, head_dim=c.audio_head_dim,
                                             **common)
        self.video_to_audio_attn = Attention(c.audio_dim, c.dim, heads=c.audio_heads, head_dim=c.audio_head_dim,
                                             **common)
        self.scale_shift_table_a2v_ca_audio = table(5, c.audio_dim)
        self.scale_shift_table_a2v_ca_video = table(5, c.dim)
        if c.cross_attention_adaln:
            self.prompt_scale_shift_table = table(2, c.dim)
            self.audio_prompt_scale_shift_table = table(2, c.audio_dim)

    def _self_and_text(self, x: torch.Tensor, s: StreamState, keep: Keep, prefix: str) -> torch.Tensor:
        table = getattr(self, prefix + "scale_shift_table")
        shift, scale1, gate = s.modulation.rows(table, 0, 3, one_plus=(1,))
        h = torch.addcmul(shift, rms_norm(x, self.eps), scale1)
        x = torch.addcmul(x, getattr(self, prefix + "attn1")(h, rope=s.rope, mask=s.self_mask, keep=keep), gate)
        text_attn = getattr(self, prefix + "attn2")
        if not self.adaln:
            return x + text_attn(rms_norm(x, self.eps), s.context, mask=s.context_mask)
        shift_q, scale_q1, gate_q = s.modulation.rows(table, 6, 9, one_plus=(7,))
        prompt_table = cast_like(getattr(self, prefix + "prompt_scale_shift_table"), x)
        batch, _, width = s.prompt.shape
        # (1, 1, 2, D) + (B, 1, 2, D) -> 2 x (B, 1, D)
        shift_kv, scale_kv = (prompt_table[None, None] + s.prompt.view(batch, 1, 2, width // 2)).unbind(dim=2)
        q_in = torch.addcmul(shift_q, rms_norm(x, self.eps), scale_q1)
        context = s.context * (1 + scale_kv) + shift_kv
        return torch.addcmul(x, text_attn(q_in, context, mask=s.context_mask), gate_q)

    def _ffn(self, x: torch.Tensor, s: StreamState, prefix: str) -> torch.Tensor:
        shift, scale1, gate = s.modulation.rows(getattr(self, prefix + "scale_shift_table"), 3, 6, one_plus=(4,))
        return torch.addcmul(x, getattr(self, prefix + "ff")(torch.addcmul(shift, rms_norm(x, self.eps), scale1)), gate)

    def _exchange(self, vx: torch.Tensor, ax: torch.Tensor, v: StreamState, a: StreamState,
                  keep_a2v: Keep, keep_v2a: Keep) -> Tuple[torch.Tensor, torch.Tensor]:
        vn, an = rms_norm(vx, self.eps), rms_norm(ax, self.eps)  # both directions read the pre-exchange states
        v_table, a_table = self.scale_shift_table_a2v_ca_video, self.scale_shift_table_a2v_ca_audio
        new_vx, new_ax = vx, ax
        if keep_a2v is not False:  # AV table rows 0-1: (scale, shift) of a2v
            new_vx = _one_direction(self.audio_to_video_attn, vx, vn, an, v, a, v_table, a_table, 0, keep_a2v)
        if keep_v2a is not False:  # AV table rows 2-3: (scale, shift) of v2a
            new_ax = _one_direction(self.video_to_audio_attn, ax, an, vn, a, v, a_table, v_table, 2, keep_v2a)
        return new_vx, new_ax

    def forward(
        self, vx: Optional[torch.Tensor], ax: Optional[torch.Tensor], video: Optional[StreamState],
        audio: Optional[StreamState], keeps: Tuple[Keep, Keep, Keep, Keep],
    ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """keeps: (video self-attn, audio self-attn, a2v, v2a), see `Perturbations.keep`."""
        run_v = vx is not None and video.enabled
        run_a = ax is not None and audio.enabled
        if run_v:
            vx = self._self_and_text(vx, video, keeps[0], "")
        if run_a:
            ax = self._self_and_text(ax, audio, keeps[1], "audio_")
        if (run_v or run_a) and vx is not None and ax is not None and vx.shape[1] and ax.shape[1]:
            vx, ax = self._exchange(vx, ax, video, audio, keeps[2] if run_v else False, keeps[3] if run_a else False)
        if run_v:
            vx = self._ffn(vx, video, "")
        if run_a:
            ax = self._ffn(ax, audio, "audio_")
        return vx, ax


def _one_direction(attn: Attention, x: torch.Tensor, xn: torch.Tensor, other_n: torch.Tensor, own: StreamState,
                   other: StreamState, own_table: torch.Tensor, other_table: torch.Tensor, row: int,
                   keep: Keep) -> torch.Tensor:
    """x + gate * attn(modulated own norm, modulated other norm): one of a2v / v2a, the receiving stream `own`.

    Rows `row`, `row + 1` of each AV table (+ the streams' cross modulation) give (scale, shift); the gate is
    the receiving table's row 4 + its cross-gate modulation."""
    scale_q, shift_q = own.cross_scale_shift.rows(own_table[:4], row, row + 2, one_plus=(row,))
    scale_k, shift_k = other.cross_scale_shift.rows(other_table[:4], row, row + 2, one_plus=(row,))
    (gate,) = own.cross_gate.rows(own_table[4:], 0, 1)
    out = attn(torch.addcmul(shift_q, xn, scale_q), torch.addcmul(shift_k, other_n, scale_k),
               rope=own.cross_rope, k_rope=other.cross_rope) * gate  # (B, T_own, D_own)
    return x + (out if keep is None else out * keep)
