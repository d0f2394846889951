"""`DiffusionVideoDecoder`: the LTX-2.5 diffusion video decoder (stages 1-4 deterministic, stage 5 pixel diffusion).

Input is the UN-normalized latent (B, C, T, H, W); the VAE wrapper applies the per-channel statistics.
`decode(latent, generator)` is the untiled decode with the official border handling:
1. a latent smaller than `config.min_latent_size` is edge-padded (time: repeat the last frame; space:
   replicate both edges, the extra one after) and the pixels are cropped back at the end;
2. the last latent frame is repeated `ghost_latent_frames` times through stages 1-4 (so the shifted
   neighbourhood window at the end of the clip sees copies of real content), and the matching
   `ghost * temporal_compression` context frames are cropped off, keeping at least the stage-5 kernel;
3. one noise draw x_t ~ N(0, 1) of the stage-5 pixel canvas (B, 3, T5, 4 H5, 4 W5) from `generator`, in the
   latent's dtype, on the generator's device (see `draw_noise`);
4. `denoise`: timesteps linspace(1, 1/N, N); with N = 1 and x0 output the single forward IS the result,
   otherwise Euler on the velocity, the last step to t = 0.
"""

from typing import Optional, Tuple

import torch
from torch import nn

from ...attention import AttentionFn, sdpa_attention
from ...transformer.layers import RMSNorm
from .blocks import DiffusionNABlock, NABlock
from .config import DiffusionDecoderConfig
from .layers import PixelShuffleUpsample, SharedAdaLN, TimestepEmbedder, chunked, patchify, unpatchify


def draw_noise(shape: Tuple[int, ...], generator: Optional[torch.Generator], dtype: torch.dtype,
               device) -> torch.Tensor:
    """N(0, 1) of `shape` drawn on the generator's device (else `device`) in `dtype`, then moved to `device`:
    the same numbers on every device for a CPU generator."""
    where = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, dtype=dtype, device=where).to(device)


def pad_axis(x: torch.Tensor, dim: int, size: int, *, both_sides: bool) -> Tuple[torch.Tensor, int]:
    """Edge-replicate `x` along `dim` up to `size`: after only, or split (the extra one after). -> (x, before)."""
    need = size - x.shape[dim]
    if need <= 0:
        return x, 0
    before = need // 2 if both_sides else 0
    parts = [x.narrow(dim, 0, 1).expand(*[before if d == dim else -1 for d in range(x.ndim)])] if before else []
    last = x.narrow(dim, x.shape[dim] - 1, 1).expand(*[need - before if d == dim else -1 for d in range(x.ndim)])
    return torch.cat([*parts, x, last], dim=dim), before


class DiffusionVideoDecoder(nn.Module):
    """Keys (official layout, without the `decoder.` prefix): conv_in, det_stages.i.j.*, upsamples.i.proj,
    t_embedder.mlp.{0,2}, conv_in_x_t, shared_adaln.proj, diff_blocks.i.*, norm_out, conv_out."""

    def __init__(self, config: DiffusionDecoderConfig, *, operations=nn, attention_fn: AttentionFn = sdpa_attention,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.config = c = config
        kw = dict(operations=operations, device=device, dtype=dtype)
        na = dict(rope_base=c.rope_base, attention_fn=attention_fn, **kw)
        self.conv_in = operations.Linear(c.in_channels, c.stage_channels[0], bias=True, device=device, dtype=dtype)
        self.det_stages = nn.ModuleList(
            nn.ModuleList(NABlock(c.stage_channels[i], c.stage_kernels[i], c.head_dim, **na)
                          for _ in range(c.stage_depths[i]))
            for i in range(4))
        self.upsamples = nn.ModuleList(
            PixelShuffleUpsample(c.stage_channels[i], c.strides[i], c.reductions[i], **kw) for i in range(4))
        width = c.stage_channels[4]
        self.t_embedder = TimestepEmbedder(c.t_emb_dim, **kw)
        self.conv_in_x_t = operations.Linear(c.pixel_patch_channels, width, bias=True, device=device, dtype=dtype)
        self.shared_adaln = SharedAdaLN(width, c.t_emb_dim, **kw)
        self.diff_blocks = nn.ModuleList(
            DiffusionNABlock(width, c.stage5_kernel, c.head_dim, c.context_channels, **na)
            for _ in range(c.stage_depths[4]))
        self.norm_out = RMSNorm(width, 1e-6, device=device, dtype=dtype)
        self.conv_out = operations.Linear(width, c.pixel_patch_channels, bias=True, device=device, dtype=dtype)

    # ---------------------------------------------------------------- deterministic stages

    def add_ghost_frames(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B, C, T + ghost, H, W): the last frame repeated."""
        n = self.config.ghost_latent_frames
        return torch.cat([latent, latent[:, :, -1:].expand(-1, -1, n, -1, -1)], dim=2) if n else latent

    def stages_1_to_3(self, latent: torch.Tensor) -> torch.Tensor:
        """Ghost-padded un-normalized latent (B, C, T, H, W) -> stage-4 input (B, T4, H4, W4, C4)."""
        x = chunked(self.conv_in, latent.permute(0, 2, 3, 4, 1), self.config.stage_channels[0])
        for blocks, upsample in zip(self.det_stages[:3], self.upsamples[:3]):
            for block in blocks:
                x = block(x)
            x = upsample(x)
        return x

    def stage_4(self, x: torch.Tensor, *, drop_leading_frame: bool = True, crop_ghost: bool = True) -> torch.Tensor:
        """Stage-4 input (tile) -> stage-5 context (B, T5, H5, W5, C5). `drop_leading_frame` only for the chunk
        holding t = 0; `crop_ghost` only for the chunk holding the clip's end (it carries the ghost frames)."""
        for block in self.det_stages[3]:
            x = block(x)
        x = self.upsamples[3](x, drop_leading_frame=drop_leading_frame)
        ghost = self.config.ghost_latent_frames * self.config.temporal_compression
        if crop_ghost and ghost:
            keep = min(x.shape[1], max(x.shape[1] - ghost, 1, self.config.stage5_kernel[0]))
            x = x[:, :keep]
        return x

    # ---------------------------------------------------------------- stage 5

    def pixel_shape(self, context: torch.Tensor) -> Tuple[int, ...]:
        b, t, h, w, _ = context.shape
        p = self.config.patch_size
        return (b, self.config.out_channels, t, h * p, w * p)

    def diffusion_step(self, context: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """One stage-5 forward: context (B, T, h, w, C5), x_t (B, 3, T, h p, w p), t (B,) -> prediction like x_t."""
        c = self.config
        modulation = self.shared_adaln(self.t_embedder(c.timestep_scale_multiplier * t, context.dtype))
        x = chunked(self.conv_in_x_t, patchify(x_t, c.patch_size), c.stage_channels[4])  # (B, T, h, w, C5)
        for block in self.diff_blocks:
            x = block(x, context, modulation)
        x = chunked(self.conv_out, self.norm_out(x), c.pixel_patch_channels)
        return unpatchify(x, c.patch_size)

    def denoise(self, context: torch.Tensor, x_t: torch.Tensor, steps: Optional[int] = None) -> torch.Tensor:
        """Integrate x_t from t = 1 to 0 in `steps` (default: the config's) conditioned on `context`."""
        c = self.config
        steps = steps or c.num_inference_steps
        batch = context.shape[0]
        times = torch.linspace(1.0, 1.0 / steps, steps, device=context.device, dtype=torch.float32)
        for i in range(steps):
            t_now = times[i].expand(batch)
            out = self.diffusion_step(context, x_t, t_now)
            if c.model_output_type == "x0" and i == steps - 1:
                return out
            x32 = x_t.float()
            velocity = (x32 - out.float()) / times[i] if c.model_output_type == "x0" else out.float()
            t_next = times[i + 1] if i + 1 < steps else torch.zeros_like(times[i])
            x_t = (x32 - (times[i] - t_next) * velocity).to(x_t.dtype)
        return x_t

    # ---------------------------------------------------------------- untiled decode

    def pad_to_minimum(self, latent: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Latent edge-padded to `min_latent_size` -> (latent, (rows before, columns before))."""
        mt, mh, mw = self.config.min_latent_size
        latent, _ = pad_axis(latent, 2, mt, both_sides=False)
        latent, top = pad_axis(latent, 3, mh, both_sides=True)
        latent, left = pad_axis(latent, 4, mw, both_sides=True)
        return latent, (top, left)

    def crop_pixels(self, pixels: torch.Tensor, latent_shape, before: Tuple[int, int]) -> torch.Tensor:
        """Pixels of the padded latent -> the pixels of the original latent (B, 3, 8(T-1)+1, 32H, 32W)."""
        _, _, t, h, w = latent_shape
        s = self.config.spatial_compression
        frames = 1 + (t - 1) * self.config.temporal_compression
        top, left = before[0] * s, before[1] * s
        return pixels[:, :, :frames, top:top + h * s, left:left + w * s]

    def decode(self, latent: torch.Tensor, generator: Optional[torch.Generator] = None,
               steps: Optional[int] = None) -> torch.Tensor:
        """Un-normalized latent (B, C, T, H, W) -> pixels (B, 3, 8(T-1)+1, 32H, 32W), roughly in [-1, 1]."""
        padded, before = self.pad_to_minimum(latent)
        context = self.stage_4(self.stages_1_to_3(self.add_ghost_frames(padded)))
        x_t = draw_noise(self.pixel_shape(context), generator, latent.dtype, latent.device)
        return self.crop_pixels(self.denoise(context, x_t, steps), latent.shape, before)
