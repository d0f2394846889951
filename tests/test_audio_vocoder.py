"""Vocoders: parity with ltx-core 1.0.0 (tiny), full-size key/shape equality, lengths, fp32 forcing."""

import pytest
import torch
from test_audio_oracle_utils import (bigvgan_metadata, hifigan_metadata, max_rel, oracle_vocoder,
                                     randomize_vocoder)

from ltx2_core.audio import Vocoder, VocoderConfig
from ltx2_core.audio.bwe import BandwidthExtendedVocoder
from ltx2_core.audio.hifigan import MelGenerator
from ltx2_core.audio.resample import hann_sinc_upsample_filter, upsample_replicate
from ltx2_core.errors import CheckpointError, InputError

TINY_HIFIGAN = hifigan_metadata(channels=32)
TINY_BIGVGAN = bigvgan_metadata(base=64, bwe=32)


def _pair(meta, dtype):
    ref = oracle_vocoder(meta)
    sd = randomize_vocoder(ref)
    ours = Vocoder(VocoderConfig.from_metadata(meta), dtype=dtype)
    ours.load_state_dict(sd)
    return ref.to(dtype).eval(), ours.to(dtype).eval()


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_hifigan_matches_ltx_core(dtype, tol):
    ref, ours = _pair(TINY_HIFIGAN, dtype)
    assert isinstance(ours, MelGenerator) and ours.output_sample_rate == 24000
    mel = torch.randn(1, 2, 4, 64, generator=torch.Generator().manual_seed(0)).to(dtype)
    with torch.no_grad():
        a, b = ref(mel), ours(mel)
    assert b.shape == a.shape == (1, 2, 4 * 240)
    assert a.abs().max() < 0.99  # not saturated by the final tanh
    assert max_rel(a, b) <= tol


def _reference_filter(dtype):
    """ltx-core's Hann-sinc skip filter as it comes out when the reference is built in `dtype`
    (its filter follows torch's default dtype)."""
    from ltx_core.model.audio_vae.vocoder import UpSample1d

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return UpSample1d(ratio=3, persistent=False, window_type="hann").filter
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_bigvgan_bwe_matches_ltx_core(dtype, tol):
    ref, ours = _pair(TINY_BIGVGAN, dtype)
    assert isinstance(ours, BandwidthExtendedVocoder) and ours.output_sample_rate == 48000
    ref.resampler.filter = _reference_filter(dtype)
    assert ref.resampler.filter.dtype == dtype
    mel = torch.randn(1, 2, 3, 64, generator=torch.Generator().manual_seed(0)).to(dtype)
    with torch.no_grad():
        a, b = ref(mel), ours(mel)
    assert b.shape == a.shape == (1, 2, 3 * 480)
    assert 0.01 < a.abs().max() < 0.99  # neither silent nor clipped
    assert max_rel(a, b) <= tol


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bwe_skip_filter_is_built_in_the_working_dtype(dtype):
    assert torch.equal(hann_sinc_upsample_filter(3, dtype=dtype), _reference_filter(dtype).view(-1))


def test_bwe_runs_in_float32_for_bfloat16_input():
    _, ours = _pair(TINY_BIGVGAN, torch.float32)
    mel = torch.randn(1, 2, 3, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = ours(mel.to(torch.bfloat16).float())
        got = ours(mel.to(torch.bfloat16))
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, ref.to(torch.bfloat16))
    assert Vocoder(VocoderConfig.from_metadata(TINY_BIGVGAN), dtype=torch.bfloat16).vocoder.conv_pre.weight.dtype \
        == torch.float32
    ours.to(torch.bfloat16)
    with pytest.raises(InputError, match="float32"):
        ours(mel)


def test_bwe_skip_upsampler_matches_reference_filter():
    from ltx_core.model.audio_vae.vocoder import UpSample1d

    ref = UpSample1d(ratio=3, persistent=False, window_type="hann")
    taps = hann_sinc_upsample_filter(3)
    assert torch.equal(taps, ref.filter.view(-1))
    x = torch.randn(2, 2, 50, generator=torch.Generator().manual_seed(2))
    assert torch.equal(upsample_replicate(x, 3, taps), ref(x))


def test_factory_picks_class_and_vocoders_deepcopy():
    import copy

    hifi = Vocoder(VocoderConfig.from_metadata(TINY_HIFIGAN))
    big = Vocoder(VocoderConfig.from_metadata(TINY_BIGVGAN))
    assert type(hifi) is MelGenerator and type(big) is BandwidthExtendedVocoder
    assert isinstance(hifi, Vocoder) and isinstance(big, Vocoder)
    clone = copy.deepcopy(big)
    assert type(clone) is BandwidthExtendedVocoder and torch.equal(clone.vocoder.conv_pre.weight,
                                                                  big.vocoder.conv_pre.weight)


def test_hifigan_bfloat16_runs_close():
    _, ours = _pair(TINY_HIFIGAN, torch.float32)
    mel = torch.randn(1, 2, 4, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = ours(mel)
        got = ours.to(torch.bfloat16)(mel.to(torch.bfloat16))
    assert got.dtype == torch.bfloat16 and max_rel(ref, got.float()) < 0.1


@pytest.mark.parametrize("meta,count", [(hifigan_metadata(), 194), (bigvgan_metadata(), 1227)])
def test_full_size_keys_and_shapes_equal_ltx_core(meta, count):
    with torch.device("meta"):
        ref = oracle_vocoder(meta)
    expected = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    ours = Vocoder(VocoderConfig.from_metadata(meta), device="meta")
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == expected
    assert len(expected) == count  # spec §4: 194 (LTX-2) / 1227 (LTX-2.3) tensors


@pytest.mark.parametrize("meta,rate,hop", [(hifigan_metadata(), 24000, 240), (bigvgan_metadata(), 48000, 480)])
def test_full_size_output_length_and_config_detection(meta, rate, hop):
    cfg = VocoderConfig.from_metadata(meta)
    ours = Vocoder(cfg, device="meta")
    assert ours.output_sample_rate == rate
    mel = torch.zeros(1, 2, 101, 64, device="meta")  # spec §8.4: 1 s -> 101 mel frames
    assert ours(mel).shape == (1, 2, 101 * hop)  # 24 240 (LTX-2) / 48 480 (LTX-2.3) samples
    assert VocoderConfig.from_state_dict(ours.state_dict()) == cfg


def test_vocoder_config_errors():
    bad = hifigan_metadata()
    bad["vocoder"]["resblock"] = "2"
    with pytest.raises(CheckpointError, match="resblock"):
        VocoderConfig.from_metadata(bad)
    bad = bigvgan_metadata()
    del bad["vocoder"]["bwe"]["hop_length"]
    with pytest.raises(CheckpointError, match="hop_length"):
        VocoderConfig.from_metadata(bad)
    shapes = Vocoder(VocoderConfig.from_metadata(TINY_HIFIGAN), device="meta").state_dict()
    shapes["ups.0.weight"] = torch.empty(32, 16, 9, device="meta")
    with pytest.raises(CheckpointError, match="no 'config'"):
        VocoderConfig.from_state_dict(shapes)
    with pytest.raises(InputError, match="stereo log-mel"):
        Vocoder(VocoderConfig.from_metadata(TINY_HIFIGAN))(torch.zeros(1, 1, 4, 64))
