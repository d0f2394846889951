"""Tiled / frame-chunked LTX-Video VAE decode and encode (the LTX-2 tiling on the LTX-Video blocks)."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.ltxv.vae import LTXVVAEConfig, LTXVVideoVAE, tiny_metadata, tiny_state_dict
from ltx2_core.video_vae import TilingConfig

LATENT = 8


def tiny(version: str, seed: int = 0) -> LTXVVideoVAE:
    vae = LTXVVideoVAE(LTXVVAEConfig.from_metadata(tiny_metadata(version)))
    vae.load_state_dict(tiny_state_dict(version, seed=seed))
    return vae.double().eval()


def center_tap(vae: LTXVVideoVAE) -> LTXVVideoVAE:
    """Keep only the kernel tap that reads the output's own position (last temporal tap in the causal
    encoder, middle one in the decoder): the receptive field becomes one latent cell."""
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("conv.weight") and p.ndim == 5 and p.shape[2] == 3:
                t = 2 if name.startswith("encoder.") else 1
                tap = p[:, :, t, 1, 1].clone()
                p.zero_()
                p[:, :, t, 1, 1] = tap
    return vae


@pytest.mark.parametrize("version", ["0.9.1", "0.9.5"])
def test_one_tile_decode_is_identical(version):
    vae = tiny(version).float()
    z = torch.randn(1, LATENT, 3, 2, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = vae.decode(z, generator=torch.Generator().manual_seed(4))
        tiled = vae.decode(z, generator=torch.Generator().manual_seed(4), tiling=TilingConfig(512, 64, 64, 24))
    assert torch.equal(tiled, whole)


@pytest.mark.parametrize("version", ["0.9.0", "0.9.5"])
def test_tiled_decode_equals_whole_with_one_cell_receptive_field(version):
    vae = center_tap(tiny(version, seed=2))
    z = torch.randn(1, LATENT, 5, 2, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    kw = {} if version == "0.9.0" else dict(timestep=0.05, noise_scale=0.025)
    tiling = TilingConfig(64, 32, 16, 8)
    with torch.no_grad():
        whole = vae.decode(z, generator=torch.Generator().manual_seed(5), **kw)
        tiled = vae.decode(z, generator=torch.Generator().manual_seed(5), tiling=tiling, **kw)
        chunks = list(vae.decode_iter(z, generator=torch.Generator().manual_seed(5), tiling=tiling, **kw))
    assert len(chunks) > 2 and sum(c.shape[2] for c in chunks) == whole.shape[2] == 33
    assert torch.equal(torch.cat(chunks, dim=2), tiled)
    assert (tiled - whole).abs().max().item() <= 1e-12


@pytest.mark.parametrize("version", ["0.9.0", "0.9.5"])
def test_tiled_encode_equals_whole_with_one_cell_receptive_field(version):
    vae = center_tap(tiny(version, seed=7))
    x = torch.rand(1, 3, 33, 32, 128, generator=torch.Generator().manual_seed(8), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        whole = vae.encode(x)
        tiled = vae.encode(x, tiling=TilingConfig(96, 32, 24, 8))
    assert tiled.shape == whole.shape == (1, LATENT, 5, 1, 4)
    assert (tiled - whole).abs().max().item() <= 1e-12


def test_encode_decode_shapes_and_messages():
    vae = tiny("0.9.0").float()
    x = torch.rand(1, 3, 9, 64, 32) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        assert z.shape == (1, LATENT, 2, 2, 1)
        assert vae.decode(z).shape == (1, 3, 9, 64, 32)
    assert vae.latent_shape(121, 512, 768) == (LATENT, 16, 16, 24)
    with pytest.raises(InputError, match="1 \\+ 8k frames"):
        vae.encode(torch.zeros(1, 3, 8, 32, 32))
    with pytest.raises(InputError, match="multiples of 32"):
        vae.encode(torch.zeros(1, 3, 9, 40, 32))
