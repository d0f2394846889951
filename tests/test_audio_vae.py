"""Audio VAE: parity with ltx-core 1.0.0 (tiny configs), full-size key/shape equality, shapes, config."""

import pytest
import torch
from test_audio_oracle_utils import FULL_VAE_METADATA, max_rel, oracle_vae, randomize_vae, vae_metadata

from ltx2_core.audio import AudioVAE, AudioVAEConfig, latent_to_tokens, tokens_to_latent
from ltx2_core.errors import CheckpointError, InputError


def _pair(meta, dtype):
    encoder, decoder = oracle_vae(meta)
    sd = randomize_vae(encoder, decoder)
    ours = AudioVAE(AudioVAEConfig.from_metadata(meta))
    ours.load_state_dict(sd)
    return encoder.to(dtype).eval(), decoder.to(dtype).eval(), ours.to(dtype).eval()


@pytest.mark.parametrize("mid_attention", [False, True])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_encoder_decoder_match_ltx_core(dtype, tol, mid_attention):
    encoder, decoder, ours = _pair(vae_metadata(mid_attention=mid_attention), dtype)
    gen = torch.Generator().manual_seed(1)
    mel = torch.randn(2, 2, 23, 16, generator=gen).to(dtype)
    latent = torch.randn(2, 2, 6, 4, generator=gen).to(dtype)
    with torch.no_grad():
        ref_z, our_z = encoder(mel), ours.encode_mel(mel)
        ref_mel, our_mel = decoder(latent), ours.decode(latent)
    assert our_z.shape == ref_z.shape == (2, 2, 6, 4)
    assert our_mel.shape == ref_mel.shape == (2, 2, 21, 16)
    assert max_rel(ref_z, our_z) <= tol
    assert max_rel(ref_mel, our_mel) <= tol


def test_encode_waveform_matches_ltx_core_encode_audio():
    from ltx_core.model.audio_vae import encode_audio
    from ltx_core.types import Audio

    encoder, _, ours = _pair(vae_metadata(), torch.float32)
    wave = 0.3 * torch.randn(1, 2, 8000, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = encode_audio(Audio(waveform=wave, sampling_rate=16000), encoder)
        got = ours.encode(wave, 16000)
    assert got.shape == ref.shape == (1, 2, 13, 4)  # 8000 / 160 + 1 = 51 mel frames -> ceil(51 / 4)
    assert max_rel(ref, got) <= 1e-4  # the two mel front-ends differ by ~4e-6 (float32 filterbanks)


def test_encode_resamples_and_duplicates_mono():
    _, _, ours = _pair(vae_metadata(), torch.float32)
    mono = 0.3 * torch.randn(1, 1, 4410, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        latent = ours.encode(mono, 44100)  # 0.1 s -> 1600 samples at 16 kHz -> 11 mel frames -> 3 latents
        stereo = ours.encode(mono.expand(-1, 2, -1).contiguous(), 44100)
    assert latent.shape == (1, 2, 3, 4)
    assert torch.equal(latent, stereo)


def test_encode_rejects_bad_input():
    _, _, ours = _pair(vae_metadata(), torch.float32)
    with pytest.raises(InputError, match="1 or 2 channels"):
        ours.encode(torch.zeros(1, 6, 16000), 16000)
    with pytest.raises(InputError, match="too short"):
        ours.encode(torch.zeros(1, 2, 100), 16000)
    with pytest.raises(InputError, match=r"\(batch, 2, frames, 4\)"):
        ours.decode(torch.zeros(1, 2, 5, 3))


def test_bfloat16_decode_close_to_float32():
    _, _, ours = _pair(vae_metadata(), torch.float32)
    latent = torch.randn(1, 2, 5, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = ours.decode(latent)
        got = ours.to(torch.bfloat16).decode(latent.to(torch.bfloat16))
    assert got.dtype == torch.bfloat16
    assert max_rel(ref, got.float()) < 0.05


@pytest.mark.parametrize("t_mel,t_lat", [(97, 25), (100, 25), (101, 26), (485, 122)])
def test_full_size_frame_counts(t_mel, t_lat):
    """Spec §3.2: T_mel 97/100 -> 25 latents -> 97 mel; 101 -> 26 -> 101; 485 -> 122 -> 485."""
    cfg = AudioVAEConfig.from_metadata(FULL_VAE_METADATA)
    ours = AudioVAE(cfg, device="meta")
    assert ours.encode_mel(torch.zeros(1, 2, t_mel, 64, device="meta")).shape == (1, 8, t_lat, 16)
    assert ours.decode(torch.zeros(1, 8, t_lat, 16, device="meta")).shape == (1, 2, 4 * t_lat - 3, 64)


def test_full_size_keys_and_shapes_equal_ltx_core():
    with torch.device("meta"):
        encoder, decoder = oracle_vae(FULL_VAE_METADATA)
    enc_sd, dec_sd = encoder.state_dict(), decoder.state_dict()
    expected = {}
    for prefix, sd in (("encoder.", enc_sd), ("decoder.", dec_sd)):
        for key, value in sd.items():
            name = key if key.startswith("per_channel_statistics.") else prefix + key
            expected[name] = tuple(value.shape)
    ours = AudioVAE(AudioVAEConfig.from_metadata(FULL_VAE_METADATA), device="meta")
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert got == expected
    assert (len(enc_sd), len(dec_sd)) == (46, 58)
    assert len(got) == len(enc_sd) + len(dec_sd) - 2  # the statistics are shared


def test_config_from_metadata_and_from_shapes_agree():
    cfg = AudioVAEConfig.from_metadata(FULL_VAE_METADATA)
    assert (cfg.ch, cfg.ch_mult, cfg.num_res_blocks, cfg.z_channels, cfg.mel_bins) == (128, (1, 2, 4), 2, 8, 64)
    assert not cfg.mid_attention and cfg.latent_features == 128
    shapes = AudioVAE(cfg, device="meta").state_dict()
    assert AudioVAEConfig.from_state_dict(shapes) == cfg


def test_config_rejects_unsupported_variants():
    meta = vae_metadata()
    meta["audio_vae"]["model"]["params"]["ddconfig"]["norm_type"] = "group"
    with pytest.raises(CheckpointError, match="norm_type"):
        AudioVAEConfig.from_metadata(meta)
    meta = vae_metadata()
    meta["audio_vae"]["model"]["params"]["ddconfig"]["attn_resolutions"] = [64]
    with pytest.raises(CheckpointError, match="attention"):
        AudioVAEConfig.from_metadata(meta)
    with pytest.raises(CheckpointError, match="key"):
        AudioVAEConfig.from_state_dict({"foo": torch.zeros(1)})


def test_token_layout_matches_ltx_core_patchifier():
    from ltx_core.components.patchifiers import AudioPatchifier
    from ltx_core.types import AudioLatentShape

    latent = torch.randn(2, 8, 5, 16, generator=torch.Generator().manual_seed(7))
    patchifier = AudioPatchifier(patch_size=1)
    tokens = latent_to_tokens(latent)
    assert tokens.shape == (2, 5, 128)
    assert torch.equal(tokens, patchifier.patchify(latent))
    assert torch.equal(tokens[1, 3, 2 * 16 + 5], latent[1, 2, 3, 5])  # feature index c * 16 + f
    back = tokens_to_latent(tokens)
    assert torch.equal(back, latent)
    assert torch.equal(back, patchifier.unpatchify(tokens, AudioLatentShape(2, 8, 5, 16)))
    with pytest.raises(InputError, match="cannot be split"):
        tokens_to_latent(tokens, channels=7)
