"""Parity of our diffusion decoder with the official ltx-core HEAD `DiffusionVideoDecoder` (eager NA fallback).

Run as a script with the ltx-core HEAD source folder (`packages/ltx-core/src`) as the first argument; it
prints one line `shape rel_error` per case. The official package is not on PyPI, so
`test_diffusion_decoder.py::test_parity_official_head` runs this only when `LTX2_LTX_CORE_HEAD` names it.
"""

import sys

import torch


def main(src: str) -> None:
    sys.path.insert(0, src)
    from ltx_core.model.video_vae.model_configurator import _build_diffusion_video_decoder
    from ltx_core.model.video_vae.transformer import EagerSdpaAttention, NeighborhoodAttention3D

    from ltx2_core.video_vae.diffusion_decoder import DiffusionVideoDecoder
    from test_diffusion_decoder import TINY, _latent

    if sys.argv[2] == "layout":
        return full_size_layout(_build_diffusion_video_decoder)
    dtype = torch.float64 if sys.argv[2] == "fp64" else torch.float32
    meta = TINY.to_metadata()
    official = _build_diffusion_video_decoder({"model_output_type": meta["model_output_type"],
                                               "decoder": meta["decoder"]}).to(dtype).eval()
    for module in official.modules():
        if isinstance(module, NeighborhoodAttention3D):
            module.attention_function = EagerSdpaAttention()
            for name in ("rope_inv_t", "rope_inv_h", "rope_inv_w"):  # as built (float32), not as cast by .to()
                setattr(module, name, getattr(module, name).float())
    g = torch.Generator().manual_seed(0)
    state = official.state_dict()
    with torch.no_grad():
        for name, p in state.items():
            p.copy_(torch.rand(p.shape, generator=g, dtype=torch.float64) + 0.5 if "std-of" in name else
                    torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.2)
    ours_state = to_file_layout(state)
    ours = DiffusionVideoDecoder(TINY, device="meta", dtype=dtype)
    ours.load_state_dict(ours_state, strict=True, assign=True)
    mean = state["per_channel_statistics.mean-of-means"].view(1, -1, 1, 1, 1)
    std = state["per_channel_statistics.std-of-means"].view(1, -1, 1, 1, 1)
    for shape in ((1, 8, 3, 2, 3), (1, 8, 1, 2, 3), (2, 8, 4, 3, 2)):
        z = _latent(dtype, shape)
        with torch.no_grad():
            want = official(z, generator=torch.Generator().manual_seed(5))
            got = ours.decode(z * std + mean, torch.Generator().manual_seed(5))
        assert got.shape == want.shape, (got.shape, want.shape)
        print(shape, ((got - want).abs().max() / want.abs().max()).item())


def to_file_layout(state):
    """Official module keys -> the file layout (fused qkv, t_embedder.mlp.{0,2}); statistics left out."""
    out = {}
    for key, value in state.items():
        if key.startswith("per_channel_statistics.") or ".attn.qkv.to_" in key:
            continue
        for official_name, ours_name in (("t_embedder.timestep_embedder.linear_1.", "t_embedder.mlp.0."),
                                         ("t_embedder.timestep_embedder.linear_2.", "t_embedder.mlp.2.")):
            key = key.replace(official_name, ours_name)
        out[key] = value
    for key in [k for k in state if ".attn.qkv.to_q." in k]:
        base, leaf = key.split(".attn.qkv.to_q.")
        out[f"{base}.attn.qkv.{leaf}"] = torch.cat([state[f"{base}.attn.qkv.to_{p}.{leaf}"] for p in "qkv"])
    return out


def full_size_layout(build) -> None:
    """The released config on the meta device: our keys / shapes / counts vs the official module's file layout."""
    from ltx2_core.video_vae.diffusion_decoder import DiffusionDecoderConfig, DiffusionVideoDecoder

    config = DiffusionDecoderConfig.ltx25()
    meta = config.to_metadata()
    with torch.device("meta"):
        official = build({"model_output_type": meta["model_output_type"], "decoder": meta["decoder"]})
    state = official.state_dict()
    file_layout = {k: tuple(v.shape) for k, v in to_file_layout(state).items()}
    ours = DiffusionVideoDecoder(config, device="meta")
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == file_layout
    stats = [k for k in state if k.startswith("per_channel_statistics.")]
    params = sum(p.numel() for p in ours.parameters())
    assert params == sum(p.numel() for p in official.parameters())
    print("layout", len(file_layout), len(stats), params)


if __name__ == "__main__":
    main(sys.argv[1])
