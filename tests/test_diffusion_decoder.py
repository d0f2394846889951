"""LTX-2.5 diffusion video decoder: exact neighbourhood attention, parity with diffusers 0.42.1
`LTX2VideoDiffusionDecoderModel` (untiled and tiled, same weights, same noise draw), full-size layout on the
meta device, the official border rules, seeding, gate folding and loading from an official-layout file."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError, InputError
from ltx2_core.video_vae import LTX23_VAE_METADATA, TilingConfig, VideoVAE, VideoVAEConfig, load_video_vae
from ltx2_core.video_vae.diffusion_decoder import (
    DiffusionDecoderConfig, DiffusionVAEConfig, DiffusionVideoDecoder, DiffusionVideoVAE, neighborhood_attention)
from ltx2_core.video_vae.diffusion_decoder.keys import from_diffusers, to_diffusers
from ltx2_core.video_vae.diffusion_decoder.neighborhood import window_starts

# Stage kernels small enough for a 2x3 latent; the released strides, patch and channel structure.
TINY = DiffusionDecoderConfig.tiny().with_(stage_kernels=((3, 1, 1), (3, 1, 1), (3, 3, 3), (3, 3, 3)))


def _diffusers(config, dtype):
    from diffusers.models.autoencoders.ltx2_diffusion_decoder import LTX2VideoDiffusionDecoderModel

    c = config
    return LTX2VideoDiffusionDecoderModel(
        out_channels=c.out_channels, latent_channels=c.in_channels, patch_size=c.patch_size,
        decoder_head_dim=c.head_dim, decoder_stage_channels=c.stage_channels, decoder_stage_depths=c.stage_depths,
        decoder_stage_kernels=c.stage_kernels, decoder_upsample_strides=c.strides,
        decoder_upsample_channel_reductions=c.reductions, decoder_stage5_kernel=c.stage5_kernel,
        decoder_t_emb_dim=c.t_emb_dim, decoder_timestep_scale_multiplier=c.timestep_scale_multiplier,
        decoder_model_output_type=c.model_output_type, decoder_num_inference_steps=c.num_inference_steps,
    ).to(dtype)


def _pair(config, dtype, seed=0):
    """Random diffusers model and ours holding the same weights (ours built on meta, assign-loaded)."""
    theirs = _diffusers(config, dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.2)
    state = from_diffusers(theirs.state_dict())
    ours = DiffusionVideoDecoder(config, device="meta", dtype=dtype)
    ours.load_state_dict({k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")},
                         strict=True, assign=True)
    return ours.eval(), theirs.eval()


def _latent(dtype, shape=(1, 8, 3, 2, 3), seed=1):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


# ---------------------------------------------------------------- neighbourhood attention


def _dense_reference(q, k, v, heads, kernel):
    """NATTEN semantics written as one dense masked attention."""
    dims = q.shape[1:4]
    masks = []
    for n, size in zip(dims, kernel):
        start, pos = window_starts(n, size), torch.arange(n)
        masks.append((pos[None] >= start[:, None]) & (pos[None] < start[:, None] + min(size, n)))
    mask = (masks[0][:, None, None, :, None, None] & masks[1][None, :, None, None, :, None]
            & masks[2][None, None, :, None, None, :]).reshape(q[0, ..., 0].numel(), -1)
    b, c = q.shape[0], q.shape[-1]
    q2, k2, v2 = (t.reshape(b, -1, heads, c // heads).transpose(1, 2) for t in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(q2, k2, v2, attn_mask=mask)
    return out.transpose(1, 2).reshape(q.shape)


@pytest.mark.parametrize("dims,kernel,block,budget", [
    ((5, 6, 7), (3, 3, 3), None, 1 << 26),
    ((9, 12, 10), (3, 7, 5), None, 1 << 26),
    ((4, 5, 13), (11, 11, 11), None, 1 << 26),  # kernel larger than the grid: the window is the whole axis
    ((7, 9, 11), (3, 5, 5), (2, 3, 4), 1000),  # small budget: chunked over t- and h-blocks
    ((6, 8, 9), (3, 5, 7), (1, 1, 1), 50),
])
def test_neighborhood_attention_exact(dims, kernel, block, budget):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, *dims, 16, generator=g, dtype=torch.float64) for _ in range(3))
    got = neighborhood_attention(q, k, v, 2, kernel, block=block, budget=budget)
    assert (got - _dense_reference(q, k, v, 2, kernel)).abs().max().item() <= 1e-13


def test_window_starts_shift_inward():
    assert window_starts(6, 3).tolist() == [0, 0, 1, 2, 3, 3]
    assert window_starts(4, 7).tolist() == [0, 0, 0, 0]


# ---------------------------------------------------------------- parity with diffusers


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)], ids=["fp32", "fp64"])
def test_parity_untiled(dtype, tol):
    ours, theirs = _pair(TINY, dtype)
    z = _latent(dtype)
    with torch.no_grad():
        got = ours.decode(z, torch.Generator().manual_seed(5))
        want = theirs.decode(z, generator=torch.Generator().manual_seed(5), return_dict=False)[0]
    assert got.shape == want.shape == (1, 3, 17, 64, 96)
    assert _rel(got, want) <= tol, _rel(got, want)


def test_parity_tiled_fp64():
    ours, theirs = _pair(TINY, torch.float64, seed=2)
    z = _latent(torch.float64, (1, 8, 3, 2, 3))
    tiling = TilingConfig(tile_size_px=64, tile_overlap_px=32, chunk_frames=16, chunk_overlap_frames=8)
    theirs.enable_tiling(tile_sample_min_height=64, tile_sample_min_width=64, tile_sample_min_num_frames=16,
                         tile_sample_stride_height=32, tile_sample_stride_width=32, tile_sample_stride_num_frames=8)
    from ltx2_core.video_vae.diffusion_decoder.tiling import decode_tiled

    with torch.no_grad():
        chunks = list(decode_tiled(ours, z, tiling, torch.Generator().manual_seed(7)))
        want = theirs.decode(z, generator=torch.Generator().manual_seed(7), return_dict=False)[0]
        untiled = ours.decode(z, torch.Generator().manual_seed(7))
    got = torch.cat(chunks, dim=2)
    assert len(chunks) == 2 and got.shape == want.shape == (1, 3, 17, 64, 96)
    assert _rel(got, want) <= 1e-10, _rel(got, want)
    assert _rel(got, untiled) > 1e-3  # several tiles draw their own noise: not the untiled image


def test_multistep_v_parity_fp64():
    config = TINY.with_(model_output_type="v", num_inference_steps=2)
    ours, theirs = _pair(config, torch.float64, seed=3)
    z = _latent(torch.float64)
    with torch.no_grad():
        got = ours.decode(z, torch.Generator().manual_seed(1))
        want = theirs.decode(z, generator=torch.Generator().manual_seed(1), return_dict=False)[0]
    assert _rel(got, want) <= 1e-10


def test_small_latent_follows_the_official_padding():
    """One latent frame: the official decoder pads to the kernel floor and crops back; diffusers refuses."""
    ours, theirs = _pair(TINY, torch.float32)
    z = _latent(torch.float32, (1, 8, 1, 2, 3))
    with torch.no_grad():
        out = ours.decode(z, torch.Generator().manual_seed(0))
        assert out.shape == (1, 3, 1, 64, 96) and torch.isfinite(out).all()
        with pytest.raises(ValueError, match="at least its kernel size"):
            theirs.decode(z, generator=torch.Generator().manual_seed(0))
    assert TINY.min_latent_size == (3, 2, 2) and DiffusionDecoderConfig.ltx25().min_latent_size == (3, 7, 7)


# ---------------------------------------------------------------- layout and full size


def test_key_table_round_trip():
    _, theirs = _pair(TINY, torch.float32)
    state = theirs.state_dict()
    ours = from_diffusers(state)
    back = to_diffusers(ours)
    assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)
    assert "decoder.diff_blocks.0.attn.qkv.weight" in ours and "decoder.t_embedder.mlp.2.bias" in ours


def test_full_size_layout_matches_diffusers_meta():
    with torch.device("meta"):
        theirs = _diffusers(DiffusionDecoderConfig.ltx25(), torch.float32)
    expected = {k: tuple(v.shape) for k, v in from_diffusers(theirs.state_dict()).items()}
    vae = DiffusionVideoVAE(DiffusionVAEConfig(VideoVAEConfig.ltx23().with_(decoder_blocks=()),
                                               DiffusionDecoderConfig.ltx25()), device="meta", components=("decoder",))
    ours = {k: tuple(v.shape) for k, v in vae.state_dict().items()}
    assert ours == expected
    theirs_params = sum(p.numel() for p in theirs.parameters())
    ours_params = sum(p.numel() for p in vae.decoder.parameters())
    assert ours_params == theirs_params == 417_133_616
    # diffusers splits each of the 24 fused qkv (weight, bias) into 3: 407 diffusers keys = our 311 + 4 * 24
    assert len(theirs.state_dict()) == 407 and len(ours) == 407 - 4 * 24
    assert sum(1 for k in ours if k.startswith("per_channel_statistics.")) == 2


# ---------------------------------------------------------------- VAE wrapper, seeding, loading


def _tiny_vae(dtype=torch.float32, seed=0):
    meta = dict(LTX23_VAE_METADATA, latent_channels=8)
    meta["encoder_blocks"] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p]
                              for n, p in LTX23_VAE_METADATA["encoder_blocks"]]
    encoder = VideoVAEConfig.from_metadata(meta).with_(latent_log_var="constant")
    vae = DiffusionVideoVAE(DiffusionVAEConfig(encoder.with_(decoder_blocks=()), TINY), dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in vae.state_dict().items():
            p.copy_(torch.rand(p.shape, generator=g) + 0.5 if "std" in name else
                    torch.randn(p.shape, generator=g) * 0.2)
    return vae.eval()


def test_seeded_decode_is_reproducible():
    vae = _tiny_vae()
    z = _latent(torch.float32)
    with torch.no_grad():
        a, b, c = (vae.decode(z, seed=s) for s in (11, 11, 12))
        tiled = TilingConfig(tile_size_px=64, tile_overlap_px=32, chunk_frames=16, chunk_overlap_frames=8)
        t1, t2 = vae.decode(z, seed=3, tiling=tiled), vae.decode(z, seed=3, tiling=tiled)
    assert torch.equal(a, b) and _rel(a, c) > 1e-3
    assert torch.equal(t1, t2) and t1.shape == a.shape == (1, 3, 17, 64, 96)
    with pytest.raises(InputError, match="either a seed or a generator"):
        vae.decode(z, seed=1, generator=torch.Generator())
    with pytest.raises(InputError, match="one device"):
        vae.decode_steps(z)


def test_tiling_one_tile_equals_untiled():
    vae = _tiny_vae()
    z = _latent(torch.float32)
    with torch.no_grad():
        whole = vae.decode(z, seed=4)
        one = vae.decode(z, seed=4, tiling=TilingConfig(tile_size_px=512, chunk_frames=64))
    assert torch.equal(whole, one)


def _official_file(tmp_path, vae, *, gates=False, metadata=True):
    state = {k: v.detach().contiguous() for k, v in vae.state_dict().items()}
    state["per_channel_statistics.channel"] = torch.arange(8.0)  # unused statistics the files carry
    state["decoder.coarse_head.weight"] = torch.zeros(2, 2)  # preview head, dropped by the official loader
    if gates:
        for i in range(TINY.stage_depths[4]):
            for name in ("gate_msa", "gate_mlp", "gate_ctx"):
                state[f"decoder.diff_blocks.{i}.{name}"] = torch.linspace(0.5, 1.5, 16)
    meta = {"model_version": "2.5.0"}
    if metadata:
        meta["config"] = json.dumps(vae.config.to_metadata())
    path = tmp_path / "ltx-2.5-video-vae.safetensors"
    save_file(state, str(path), meta)
    return path


@pytest.mark.parametrize("metadata", [True, False], ids=["metadata", "shapes"])
def test_load_official_layout(tmp_path, metadata):
    vae = _tiny_vae()
    path = _official_file(tmp_path, vae, metadata=metadata)
    base = TINY if not metadata else None  # kernels are not in the shapes: pass them when the file has no metadata
    config = None if metadata else DiffusionVAEConfig(vae.config.encoder, base)
    loaded = load_video_vae(path, config=config)
    assert isinstance(loaded, DiffusionVideoVAE) and loaded.config == vae.config
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in vae.state_dict().items())
    z = _latent(torch.float32)
    with torch.no_grad():
        assert torch.equal(loaded.decode(z, seed=2), vae.decode(z, seed=2))
        pixels = torch.rand(1, 3, 9, 64, 96) * 2 - 1
        assert loaded.encode(pixels).shape == (1, 8, 2, 2, 3)
    assert DiffusionVAEConfig.from_metadata(vae.config.to_metadata()) == vae.config


def test_gates_fold_into_linears(tmp_path):
    vae = _tiny_vae()
    loaded = load_video_vae(_official_file(tmp_path, vae, gates=True))
    gate = torch.linspace(0.5, 1.5, 16)
    for i in range(TINY.stage_depths[4]):
        block, ref = loaded.decoder.diff_blocks[i], vae.decoder.diff_blocks[i]
        for got, want in ((block.attn.proj, ref.attn.proj), (block.context_proj, ref.context_proj)):
            assert torch.allclose(got.weight, gate[:, None] * want.weight)
            assert torch.allclose(got.bias, gate * want.bias)
        assert torch.allclose(block.mlp.w_down.weight, gate[:, None] * ref.mlp.w_down.weight)
    assert not any(".gate_" in k or "coarse" in k for k in loaded.state_dict())


def test_decoder_kind_requests(tmp_path):
    diffusion = _official_file(tmp_path, _tiny_vae())
    with pytest.raises(CheckpointError, match="diffusion video decoder, not a convolutional one"):
        load_video_vae(diffusion, decoder="conv")
    meta = dict(LTX23_VAE_METADATA, decoder_base_channels=4, latent_channels=8)
    for side in ("encoder_blocks", "decoder_blocks"):
        meta[side] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in LTX23_VAE_METADATA[side]]
    conv = VideoVAE(VideoVAEConfig.from_metadata(meta))
    path = tmp_path / "ltx-2.3-vae.safetensors"
    save_file({k: torch.zeros(v.shape) for k, v in conv.state_dict().items()}, str(path),
              {"config": json.dumps({"vae": {**meta, "_class_name": "CausalVideoAutoencoder"}})})
    with pytest.raises(CheckpointError, match="has the convolutional video decoder") as err:
        load_video_vae(path, decoder="diffusion")
    assert "\n" not in str(err.value)
    conv_loaded = load_video_vae(path)  # a conv file (the 2.5 conv variant too): width read from the metadata
    assert isinstance(conv_loaded, VideoVAE) and conv_loaded.config.decoder_base_channels == 4


@pytest.mark.parametrize("dtype,tol", [("fp32", 1e-5), ("fp64", 1e-10), ("layout", None)])
def test_parity_official_head(dtype, tol):
    """Against ltx-core HEAD's own `DiffusionVideoDecoder` (eager NA fallback, its padding and soft ghost crop),
    when `LTX2_LTX_CORE_HEAD` names its `packages/ltx-core/src` folder (it is not on PyPI)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = os.environ.get("LTX2_LTX_CORE_HEAD")
    if not src:
        pytest.skip("set LTX2_LTX_CORE_HEAD to ltx-core HEAD's packages/ltx-core/src to compare with it")
    here = Path(__file__).parent
    run = subprocess.run([sys.executable, str(here / "_diffusion_decoder_official.py"), src, dtype],
                         capture_output=True, text=True, cwd=str(here),
                         env={**os.environ, "PYTHONPATH": f"{here.parent}{os.pathsep}{here}"})
    assert run.returncode == 0, run.stderr[-2000:]
    if dtype == "layout":  # 309 decoder tensors + 2 statistics (the file layout), 417,133,616 parameters
        assert run.stdout.split() == ["layout", "309", "2", "417133616"], run.stdout
        return
    errors = [float(line.rsplit(" ", 1)[1]) for line in run.stdout.strip().splitlines()]
    assert len(errors) == 3 and max(errors) <= tol, run.stdout
