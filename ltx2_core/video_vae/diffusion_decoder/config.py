"""Configuration of the LTX-2.5 diffusion video decoder (`CausalDiffusionVAE`'s decoder).

The official VAE file carries it in the `config` metadata: `vae._class_name` = "CausalDiffusionVAE",
decoder hyper-parameters nested under `vae.decoder`, `model_output_type` one level up (next to
`decoder`). Fields missing from the metadata take the official configurator's class defaults
(`from_metadata`); a file without metadata gets the shipped LTX-2.5 values with the widths and depths
read from the key shapes (`from_shapes`). Every combination is validated here, once, with one line.
"""

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional, Tuple

from ...errors import CheckpointError

Triple = Tuple[int, int, int]

# The official class defaults (used for fields a metadata section leaves out).
_CLASS_DEFAULTS = dict(
    stage_channels=(1024, 512, 256, 256, 128),
    stage_depths=(4, 6, 4, 2, 8),
    stage_kernels=((3, 7, 7), (3, 7, 7), (3, 5, 5), (3, 5, 5)),
    strides=((1, 2, 2), (2, 1, 1), (2, 2, 2), (2, 2, 2)),
    reductions=(2, 2, 1, 2),
    stage5_kernel=(3, 7, 7),
    num_inference_steps=2,
    timestep_scale_multiplier=1.0,
    model_output_type="v",
)
OUTPUT_TYPES = ("x0", "v")


@dataclass(frozen=True)
class DiffusionDecoderConfig:
    """Architecture of the diffusion decoder.

    Stages 1-4 are deterministic: `stage_depths[i]` NA blocks of width `stage_channels[i]` with kernel
    `stage_kernels[i]`, then an upsample by `strides[i]` that divides the width by `reductions[i]`.
    Stage 5 (width `stage_channels[4]`, `stage_depths[4]` blocks, kernel `stage5_kernel`) denoises the
    patchified pixels in `num_inference_steps` steps.
    """

    in_channels: int = 128
    out_channels: int = 3
    patch_size: int = 4
    head_dim: int = 64
    stage_channels: Tuple[int, ...] = (2048, 1024, 512, 512, 256)
    stage_depths: Tuple[int, ...] = (4, 6, 4, 2, 8)
    stage_kernels: Tuple[Triple, ...] = ((3, 7, 7), (3, 7, 7), (3, 5, 5), (3, 5, 5))
    strides: Tuple[Triple, ...] = ((1, 2, 2), (2, 1, 1), (2, 2, 2), (2, 2, 2))
    reductions: Tuple[int, ...] = (2, 2, 1, 2)
    stage5_kernel: Triple = (11, 11, 11)
    t_emb_dim: int = 384
    timestep_scale_multiplier: float = 1000.0
    model_output_type: str = "x0"
    num_inference_steps: int = 1
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        def fail(msg: str) -> None:
            raise CheckpointError(f"Diffusion video decoder config: {msg}")

        if len(self.stage_channels) != 5 or len(self.stage_depths) != 5:
            fail(f"needs 5 stage widths and depths, got {self.stage_channels} / {self.stage_depths}.")
        if len(self.stage_kernels) != 4 or len(self.strides) != 4 or len(self.reductions) != 4:
            fail("needs 4 deterministic-stage kernels, upsample strides and channel reductions.")
        for kernel in (*self.stage_kernels, self.stage5_kernel):
            if len(kernel) != 3 or min(kernel) < 1:
                fail(f"kernel {kernel} is not three positive sizes (T, H, W).")
        for stride in self.strides:
            if len(stride) != 3 or any(s not in (1, 2) for s in stride):
                fail(f"upsample stride {stride} must be three factors of 1 or 2.")
        if self.head_dim < 8 or self.head_dim % 8:
            fail(f"head_dim must be a positive multiple of 8, got {self.head_dim}.")
        for i, width in enumerate(self.stage_channels):
            if width < 1 or width % self.head_dim:
                fail(f"stage {i + 1} width {width} is not a multiple of head_dim {self.head_dim}.")
        for i, (reduction, width) in enumerate(zip(self.reductions, self.stage_channels)):
            if reduction < 1 or width % reduction or width // reduction != self.stage_channels[i + 1]:
                fail(f"upsample {i} reduces {width} by {reduction}, which does not give stage {i + 2}'s "
                     f"width {self.stage_channels[i + 1]}.")
        if min(self.stage_depths) < 0 or self.stage_depths[-1] < 1:
            fail(f"stage depths must be >= 0 (stage 5 >= 1), got {self.stage_depths}.")
        if self.model_output_type not in OUTPUT_TYPES:
            fail(f"model_output_type must be one of {OUTPUT_TYPES}, got {self.model_output_type!r}.")
        if self.num_inference_steps < 1:
            fail(f"default_num_inference_steps must be >= 1, got {self.num_inference_steps}.")
        if min(self.in_channels, self.out_channels, self.patch_size, self.t_emb_dim) < 1:
            fail("in_channels, out_channels, patch_size and t_emb_dim must be positive.")

    # ---------------------------------------------------------------- geometry

    @property
    def temporal_compression(self) -> int:
        out = 1
        for stride in self.strides:
            out *= stride[0]
        return out

    @property
    def spatial_compression(self) -> int:
        out = self.patch_size
        for stride in self.strides:
            out *= stride[1]
        return out

    @property
    def context_channels(self) -> int:
        return self.stage_channels[-1]

    @property
    def pixel_patch_channels(self) -> int:
        return self.out_channels * self.patch_size ** 2

    @property
    def ghost_latent_frames(self) -> int:
        """Copies of the last latent frame appended for the neighbourhood border (cropped after stage 4)."""
        return (self.stage_kernels[0][0] // 2) * 2

    @property
    def min_latent_size(self) -> Triple:
        """Smallest latent (T, H, W) every stage's kernel fits in; smaller latents are edge-padded first."""
        mins, cumulative = [1, 1, 1], (1, 1, 1)
        for kernel, stride in zip(self.stage_kernels, self.strides):
            mins = [max(m, -(-k // c)) for m, k, c in zip(mins, kernel, cumulative)]
            cumulative = tuple(c * s for c, s in zip(cumulative, stride))
        return tuple(max(m, -(-k // c)) for m, k, c in zip(mins, self.stage5_kernel, cumulative))

    def with_(self, **changes: Any) -> "DiffusionDecoderConfig":
        return replace(self, **changes)

    # ---------------------------------------------------------------- construction

    @classmethod
    def ltx25(cls) -> "DiffusionDecoderConfig":
        """The decoder of the released `ltx-2.5-video-vae-bf16` file."""
        return cls()

    @classmethod
    def tiny(cls, latent_channels: int = 8) -> "DiffusionDecoderConfig":
        """A few-thousand-parameter decoder with the released structure (tests, demo)."""
        return cls(in_channels=latent_channels, head_dim=16, stage_channels=(64, 32, 16, 16, 16),
                   stage_depths=(1, 1, 1, 1, 1), stage_kernels=((3, 3, 3),) * 4, reductions=(2, 2, 1, 1),
                   stage5_kernel=(3, 5, 5), t_emb_dim=32)

    @classmethod
    def from_metadata(cls, vae: Mapping[str, Any]) -> "DiffusionDecoderConfig":
        """From the `config.vae` section of a `CausalDiffusionVAE` file (or the whole `config`)."""
        vae = vae.get("vae", vae)
        decoder = vae.get("decoder", vae)
        if not isinstance(decoder, Mapping):
            raise CheckpointError("Diffusion video decoder config: metadata 'vae.decoder' is not an object.")
        d = _CLASS_DEFAULTS
        try:
            kernels = [tuple(int(v) for v in k) for k in decoder.get("stage_kernels", d["stage_kernels"])]
            upsamples = decoder.get("upsamples")
            strides = d["strides"] if upsamples is None else tuple(tuple(int(v) for v in s) for s, _ in upsamples)
            reductions = d["reductions"] if upsamples is None else tuple(int(r) for _, r in upsamples)
            stage5 = tuple(int(v) for v in decoder.get("stage5_kernel", d["stage5_kernel"]))
            channels = tuple(int(c) for c in decoder.get("stage_channels", d["stage_channels"]))
            if int(decoder.get("stage5_channels", channels[-1])) != channels[-1]:
                raise CheckpointError("Diffusion video decoder config: a stage-5 width other than the last "
                                      "stage width is not supported.")
            return cls(
                in_channels=int(decoder.get("in_channels", vae.get("latent_channels", 128))),
                out_channels=int(decoder.get("out_channels", 3)),
                patch_size=int(decoder.get("patch_size", 4)),
                head_dim=int(decoder.get("head_dim", decoder.get("na_head_dim", 64))),
                stage_channels=channels,
                stage_depths=tuple(int(n) for n in decoder.get("stage_depths", d["stage_depths"])),
                # The shipped metadata lists a fifth (stage-5) kernel here as well; stage5_kernel is the one used.
                stage_kernels=tuple(kernels[:4]),
                strides=strides,
                reductions=reductions,
                stage5_kernel=stage5,
                t_emb_dim=int(decoder.get("t_emb_dim", 384)),
                timestep_scale_multiplier=float(decoder.get("timestep_scale_multiplier",
                                                            d["timestep_scale_multiplier"])),
                model_output_type=str(vae.get("model_output_type", d["model_output_type"])),
                num_inference_steps=int(decoder.get("default_num_inference_steps", d["num_inference_steps"])),
            )
        except (TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(
                f"Diffusion video decoder config: malformed 'vae.decoder' metadata ({exc}).") from None

    def to_metadata(self) -> dict:
        """The `config.vae.decoder` section (plus `model_output_type`) this config round-trips through."""
        return {
            "model_output_type": self.model_output_type,
            "decoder": {
                "in_channels": self.in_channels, "out_channels": self.out_channels, "patch_size": self.patch_size,
                "head_dim": self.head_dim, "stage_channels": list(self.stage_channels),
                "stage_depths": list(self.stage_depths),
                "stage_kernels": [list(k) for k in (*self.stage_kernels, self.stage5_kernel)],
                "upsamples": [[list(s), r] for s, r in zip(self.strides, self.reductions)],
                "stage5_kernel": list(self.stage5_kernel), "t_emb_dim": self.t_emb_dim,
                "timestep_scale_multiplier": self.timestep_scale_multiplier,
                "default_num_inference_steps": self.num_inference_steps,
            },
        }

    @classmethod
    def from_shapes(cls, shapes: Mapping[str, tuple], base: Optional["DiffusionDecoderConfig"] = None
                    ) -> "DiffusionDecoderConfig":
        """Widths, depths, latent channels and t_emb_dim read from our key shapes (prefix `decoder.`);
        kernels, strides and the sampling settings (which no shape holds) from `base` (default: LTX-2.5)."""
        base = base or cls.ltx25()
        try:
            conv_in = shapes["decoder.conv_in.weight"]
            widths = [conv_in[0]]
            depths = []
            for i in range(4):
                depths.append(sum(1 for k in shapes if k.startswith(f"decoder.det_stages.{i}.")
                                  and k.endswith(".norm1.weight")))
                proj = shapes[f"decoder.upsamples.{i}.proj.weight"]
                stride = base.strides[i]
                widths.append(proj[0] // (stride[0] * stride[1] * stride[2]))
            depths.append(sum(1 for k in shapes
                              if k.startswith("decoder.diff_blocks.") and k.endswith(".norm1.weight")))
            reductions = tuple(max(1, widths[i] // widths[i + 1]) for i in range(4))
            norm = "decoder.diff_blocks.0.attn.q_norm.weight"
            return base.with_(in_channels=conv_in[1], head_dim=shapes[norm][0], stage_channels=tuple(widths),
                              stage_depths=tuple(depths),
                              reductions=reductions, t_emb_dim=shapes["decoder.t_embedder.mlp.0.weight"][0],
                              out_channels=shapes["decoder.conv_out.weight"][0] // base.patch_size ** 2)
        except KeyError as exc:
            raise CheckpointError(f"Diffusion video decoder weights are incomplete: no {exc.args[0]!r}.") from None
