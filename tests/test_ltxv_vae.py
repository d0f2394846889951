"""LTX-Video VAE (0.9.0 / 0.9.1 / 0.9.5) vs the official ltx_video 0.1.2 CausalVideoAutoencoder and diffusers'
AutoencoderKLLTXVideo on tiny random configs; full-size key layouts on meta; normalization; bad input."""

import copy

import pytest
import torch

from _ltxv_vae_oracle import VERSIONS, build_diffusers, build_official, build_triple
from ltx2_core.errors import InputError
from ltx2_core.ltxv.vae import LTXVVAEConfig, LTXVVideoVAE
from ltx2_core.ltxv.vae.config import PRESETS
from ltx2_core.ltxv.vae.keys import diffusers_names

LATENT = 8
# diffusers' RMSNorm (its pixel norm) computes the variance in float32 even for float64 inputs, so in
# float64 it agrees only to float32 rounding; the official code is exact in float64.
DIFFUSERS_FP64_TOL = 1e-5


def rel_err(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max()).item()


@pytest.fixture(scope="module")
def triples():
    return {v: build_triple(v, seed=i) for i, v in enumerate(VERSIONS)}


def _cast(models, dtype):
    return [m.to(dtype) for m in models]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_encoder_parity(triples, version, dtype, tol):
    official, dif, ours = _cast(triples[version], dtype)
    x = (torch.rand(2, 3, 17, 64, 96, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1)
    x = x.to(dtype)
    with torch.no_grad():
        mine = ours.encoder(x)
        ref = official.encoder(x)[:, :LATENT]
        ref_d = dif.encoder(x)[:, :LATENT]
    assert mine.shape == (2, LATENT, 3, 2, 3)
    assert rel_err(mine, ref) <= tol
    assert rel_err(mine, ref_d) <= max(tol, DIFFUSERS_FP64_TOL if dtype == torch.float64 else tol)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_decoder_parity_with_fixed_noise(triples, version, dtype, tol):
    """Raw decoder; conditioned versions at timestep 0.05 with the injected noise drawn from one seed."""
    official, dif, ours = _cast(triples[version], dtype)
    z = torch.randn(2, LATENT, 3, 2, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(dtype)
    ts = torch.tensor([0.05, 0.3], dtype=dtype) if ours.config.timestep_conditioning else None
    with torch.no_grad():
        torch.manual_seed(5)
        mine = ours.decoder(z, ts)
        torch.manual_seed(5)
        ref = official.decoder(z, target_shape=(2, 3, 17, 64, 96), timestep=ts)
        torch.manual_seed(5)
        ref_d = dif.decoder(z, ts)
    assert mine.shape == (2, 3, 17, 64, 96)
    assert rel_err(mine, ref) <= tol
    assert rel_err(mine, ref_d) <= max(tol, DIFFUSERS_FP64_TOL if dtype == torch.float64 else tol)


def test_injected_noise_and_timestep_matter(triples):
    """0.9.1: a different noise draw or timestep changes the output (the test above would catch a dropped term)."""
    ours = copy.deepcopy(triples["0.9.1"][2]).double()  # a copy: the shared triple stays untouched
    with torch.no_grad():
        ours.decoder.up_blocks[2].res_blocks[0].per_channel_scale1.fill_(0.5)
        z = torch.randn(1, LATENT, 2, 2, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        ts = torch.tensor([0.05], dtype=torch.float64)
        a = ours.decoder(z, ts, torch.Generator().manual_seed(1))
        b = ours.decoder(z, ts, torch.Generator().manual_seed(1))
        c = ours.decoder(z, ts, torch.Generator().manual_seed(2))
        d = ours.decoder(z, ts * 4, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3 and (a - d).abs().max() > 1e-3


@pytest.mark.parametrize("version", ["0.9.1", "0.9.5"])
def test_denoising_decode_matches_official_pipeline_formula(triples, version):
    """decode(): z*(1-s) + eps*s on the NORMALIZED latent (official pipeline), un-normalize, decode at t."""
    official, _, ours = _cast(triples[version], torch.float64)
    z = torch.randn(1, LATENT, 2, 2, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    with torch.no_grad():
        torch.manual_seed(7)  # global RNG: eps first, then the decoder's injected noise (0.9.1), in both runs
        mine = ours.decode(z, timestep=0.1, noise_scale=0.2)
        torch.manual_seed(7)
        eps = torch.randn(z.shape, dtype=torch.float64)
        mixed = z * 0.8 + eps * 0.2
        stats = ours.per_channel_statistics
        raw = mixed * stats.get_buffer("std-of-means").view(1, -1, 1, 1, 1) + stats.get_buffer(
            "mean-of-means").view(1, -1, 1, 1, 1)
        ref = official.decoder(raw, target_shape=(1, 3, 9, 64, 64), timestep=torch.tensor([0.1], dtype=torch.float64))
        plain = ours.decoder(ours.unnormalize_latent(z), torch.tensor([0.1], dtype=torch.float64))
    assert rel_err(mine, ref) <= 1e-10
    assert (mine - plain).abs().max() > 1e-4  # the noise mix is applied


def test_latent_normalization_matches_official_formula(triples):
    _, _, ours = triples["0.9.0"]
    z = torch.randn(2, LATENT, 2, 2, 2, dtype=torch.float64)
    mean = ours.per_channel_statistics.get_buffer("mean-of-means").view(1, -1, 1, 1, 1)
    std = ours.per_channel_statistics.get_buffer("std-of-means").view(1, -1, 1, 1, 1)
    assert torch.allclose(ours.normalize_latent(z), (z - mean) / std, rtol=0, atol=1e-12)
    assert torch.allclose(ours.unnormalize_latent(ours.normalize_latent(z)), z, rtol=0, atol=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_full_size_keys_and_shapes_match_official_and_diffusers(version):
    ours = LTXVVideoVAE(LTXVVAEConfig.preset(version), device="meta")
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items() if not k.startswith("per_channel")}
    official = {k: tuple(v.shape) for k, v in build_official(PRESETS[version], device="meta").state_dict().items()}
    assert mine == official
    dif = {k: tuple(v.shape) for k, v in build_diffusers(version, full=True).state_dict().items()}
    names = diffusers_names(ours.config, ours.state_dict())
    assert {names[k]: tuple(v.shape) for k, v in ours.state_dict().items()} == dif
    assert sum(v.numel() for v in ours.state_dict().values()) == sum(
        v.numel() for v in build_diffusers(version, full=True).state_dict().values())


def test_version_detection_and_presets():
    assert [LTXVVAEConfig.preset(v).version for v in ("0.9.0", "0.9.1", "0.9.5", "0.9.8")] == [
        "0.9.0", "0.9.1", "0.9.5", "0.9.5"]
    assert LTXVVAEConfig.preset("0.9.1").decoder_width == 1024
    assert LTXVVAEConfig.preset("0.9.0").spatial_compression == 32


def test_090_refuses_denoising_decode(triples):
    _, _, ours = triples["0.9.0"]
    z = torch.zeros(1, LATENT, 1, 1, 1, dtype=torch.float64)
    with pytest.raises(InputError, match=r"0\.9\.0 VAE has no denoising .*use a 0\.9\.1\+ VAE") as err:
        ours.decode(z, timestep=0.05)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="no denoising"):
        ours.decode(z, noise_scale=0.025)


@pytest.mark.parametrize("version", ["0.9.0", "0.9.5"])
def test_sampled_encode_matches_official_vae_encode(triples, version):
    """encode(sample=True) == official vae_encode (latent_dist.sample(), per-channel normalized), same RNG."""
    from ltx_video.models.autoencoders.vae_encode import vae_encode

    official, _, ours = _cast(triples[version], torch.float64)
    stats = {k: v for k, v in ours.state_dict().items() if k.startswith("per_channel")}
    official.load_state_dict({**{k: v for k, v in official.state_dict().items()}, **stats}, strict=False)
    x = torch.rand(1, 3, 9, 64, 64, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        torch.manual_seed(3)
        mine = ours.encode(x, sample=True)
        torch.manual_seed(3)
        ref = vae_encode(x, official, vae_per_channel_normalize=True)
        mean = ours.encode(x)
    assert rel_err(mine, ref) <= 1e-10
    assert (mine - mean).abs().max() > 0
