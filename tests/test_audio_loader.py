"""Loading audio VAE / vocoder from single-file and separate checkpoints; timing and duration helpers."""

import json

import pytest
import torch
from safetensors.torch import save_file
from test_audio_oracle_utils import (bigvgan_metadata, hifigan_metadata, max_rel, oracle_vae, oracle_vocoder,
                                     randomize_vae, randomize_vocoder, vae_metadata)

from ltx2_core.audio import (AudioVAE, AudioVAEConfig, Vocoder, VocoderConfig, audio_latent_frames,
                             decode_to_waveform, fit_to_duration, load_audio_vae, load_vocoder,
                             video_duration_samples)
from ltx2_core.audio.bwe import BandwidthExtendedVocoder
from ltx2_core.audio.hifigan import MelGenerator
from ltx2_core.errors import CheckpointError, InputError

TINY_HIFIGAN = hifigan_metadata(channels=32)
TINY_BIGVGAN = bigvgan_metadata(base=64, bwe=32)
TINY_VAE = vae_metadata(ch=16, z=1, mel_bins=64)  # 64 mel bins: what the vocoders take


@pytest.fixture(scope="module")
def parts():
    """Tiny random weights: (audio VAE state dict, HiFi-GAN state dict, BigVGAN+BWE state dict)."""
    vae_sd = randomize_vae(*oracle_vae(TINY_VAE))
    hifi_sd = randomize_vocoder(oracle_vocoder(TINY_HIFIGAN))
    big_sd = randomize_vocoder(oracle_vocoder(TINY_BIGVGAN))
    return vae_sd, hifi_sd, big_sd


def _monolith(vae_sd, voc_sd, vocoder_meta):
    sd = {"audio_vae." + k: v for k, v in vae_sd.items()}
    sd.update({"vocoder." + k: v for k, v in voc_sd.items()})
    sd["model.diffusion_model.patchify_proj.weight"] = torch.zeros(4, 4)
    sd["vae.decoder.conv_in.conv.weight"] = torch.zeros(2, 2, 1, 1, 1)
    return sd, {"config": json.dumps({**TINY_VAE, **vocoder_meta, "transformer": {}})}


def _same_weights(module, sd):
    ours = module.state_dict()
    return set(ours) == set(sd) and all(torch.equal(ours[k], sd[k].to(ours[k].dtype)) for k in sd)


@pytest.mark.parametrize("which", ["hifigan", "bigvgan"])
def test_single_file_with_metadata(tmp_path, parts, which):
    vae_sd, hifi_sd, big_sd = parts
    voc_sd, meta = (hifi_sd, TINY_HIFIGAN) if which == "hifigan" else (big_sd, TINY_BIGVGAN)
    sd, metadata = _monolith(vae_sd, voc_sd, meta)
    path = tmp_path / "ltx-2-tiny.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata=metadata)
    vae = load_audio_vae(str(path))
    vocoder = load_vocoder(path)
    assert vae.config == AudioVAEConfig.from_metadata(TINY_VAE)
    assert _same_weights(vae, vae_sd) and _same_weights(vocoder, voc_sd)
    assert isinstance(vocoder, BandwidthExtendedVocoder if which == "bigvgan" else MelGenerator)
    assert vocoder.config == VocoderConfig.from_metadata(meta)
    assert not vae.training and not vocoder.training


def test_state_dict_mapping_and_separate_files(tmp_path, parts):
    vae_sd, hifi_sd, big_sd = parts
    sd, _ = _monolith(vae_sd, big_sd, TINY_BIGVGAN)
    vae = load_audio_vae(sd, config=TINY_VAE, dtype=torch.float64)
    assert next(vae.parameters()).dtype == torch.float64 and _same_weights(vae, vae_sd)
    # ComfyUI-style split files: bare audio VAE keys; vocoder keys with one `vocoder.` removed.
    save_file({k: v.contiguous() for k, v in vae_sd.items()}, str(tmp_path / "audio_vae.safetensors"))
    save_file({k: v.contiguous() for k, v in big_sd.items()}, str(tmp_path / "vocoder.safetensors"))
    save_file({k: v.contiguous() for k, v in hifi_sd.items()}, str(tmp_path / "hifigan.safetensors"))
    vae = load_audio_vae(str(tmp_path / "audio_vae.safetensors"))  # config detected from shapes
    assert vae.config == AudioVAEConfig.from_metadata(TINY_VAE) and _same_weights(vae, vae_sd)
    big = load_vocoder(str(tmp_path / "vocoder.safetensors"), config=TINY_BIGVGAN, dtype=torch.bfloat16)
    assert isinstance(big, BandwidthExtendedVocoder) and _same_weights(big, big_sd)
    assert next(big.parameters()).dtype == torch.float32  # the BWE vocoder stays in float32
    hifi = load_vocoder(str(tmp_path / "hifigan.safetensors"))  # HiFi-GAN layout detected from shapes
    assert hifi.config == VocoderConfig.from_metadata(hifigan_metadata(32))
    assert _same_weights(hifi, hifi_sd)


def test_decoder_only_file(parts):
    vae_sd = {k: v for k, v in parts[0].items() if not k.startswith("encoder.")}
    vae = load_audio_vae(vae_sd)
    assert vae.encoder is None and vae.decoder is not None
    with pytest.raises(InputError, match="without its encoder"):
        vae.encode(torch.zeros(1, 2, 4000), 16000)
    with pytest.raises(CheckpointError, match="encoder=False"):
        load_audio_vae(vae_sd, encoder=True)


def test_load_errors(tmp_path, parts):
    vae_sd, hifi_sd, _ = parts
    broken = dict(vae_sd)
    del broken["decoder.conv_out.conv.bias"]
    with pytest.raises(CheckpointError, match="missing key.*decoder.conv_out.conv.bias"):
        load_audio_vae(broken, config=TINY_VAE)
    extra = dict(hifi_sd, **{"bogus.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unexpected key.*bogus.weight"):
        load_vocoder(extra, config=TINY_HIFIGAN)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_vocoder(hifi_sd, config=hifigan_metadata(64))
    with pytest.raises(CheckpointError, match="no audio VAE weights"):
        load_audio_vae({"model.diffusion_model.x": torch.zeros(1)})
    path = tmp_path / "video_only.safetensors"
    save_file({"vae.decoder.conv_in.conv.weight": torch.zeros(1)}, str(path))
    with pytest.raises(CheckpointError, match="video_only.safetensors holds no vocoder weights"):
        load_vocoder(str(path))
    with pytest.raises(CheckpointError, match="not found"):
        load_audio_vae(str(tmp_path / "missing.safetensors"))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes((tmp_path / "video_only.safetensors").read_bytes()[:20])
    with pytest.raises(CheckpointError, match="truncated|corrupt"):
        load_vocoder(str(truncated))


@pytest.mark.parametrize("frames,fps,expected", [(121, 25, 121), (121, 24, 126), (97, 24, 101), (65, 30, 54),
                                                  (121, 23.976, 126), (1, 25, 1)])
def test_audio_latent_frames_match_official(frames, fps, expected):
    from ltx_core.types import AudioLatentShape, VideoPixelShape

    ref = AudioLatentShape.from_video_pixel_shape(VideoPixelShape(batch=1, frames=frames, height=32, width=32,
                                                                  fps=fps)).frames
    assert audio_latent_frames(frames, fps) == ref == expected


def test_fit_to_duration_trims_and_pads():
    wave = torch.arange(1.0, 11.0).view(1, 1, 10)
    assert torch.equal(fit_to_duration(wave, 100, 0.04), wave[..., :4])
    padded = fit_to_duration(wave, 100, 0.125)  # round(12.5) = 12 samples
    assert padded.shape[-1] == 12 and torch.equal(padded[..., :10], wave) and not padded[..., 10:].any()
    assert video_duration_samples(121, 24, 48000) == 242000 and video_duration_samples(121, 25, 24000) == 116160


def test_timing_helpers_reject_bad_input():
    with pytest.raises(InputError, match="positive integer"):
        audio_latent_frames(0, 25)
    with pytest.raises(InputError, match="Frame rate"):
        audio_latent_frames(10, 0)
    with pytest.raises(InputError, match="duration"):
        fit_to_duration(torch.zeros(1, 2, 10), 24000, 0)


@pytest.mark.parametrize("which,frames,fps", [("hifigan", 9, 25), ("hifigan", 17, 24), ("hifigan", 8, 8),
                                              ("hifigan", 25, 30), ("hifigan", 13, 50), ("bigvgan", 17, 24),
                                              ("bigvgan", 25, 30)])
def test_decoded_waveform_duration_equals_video_duration(parts, which, frames, fps):
    vae_sd, hifi_sd, big_sd = parts
    vae = load_audio_vae(vae_sd, config=TINY_VAE)
    voc_sd, voc_meta = (hifi_sd, TINY_HIFIGAN) if which == "hifigan" else (big_sd, TINY_BIGVGAN)
    vocoder = load_vocoder(voc_sd, config=voc_meta)
    latent = torch.randn(1, 1, audio_latent_frames(frames, fps), 16, generator=torch.Generator().manual_seed(0))
    wave, rate = decode_to_waveform(latent, vae, vocoder, duration_seconds=frames / fps)
    assert rate == (24000 if which == "hifigan" else 48000)
    assert wave.dtype == torch.float32 and wave.shape[:2] == (1, 2)
    assert wave.shape[-1] == video_duration_samples(frames, fps, rate)
    assert wave.shape[-1] * fps == frames * rate  # exact: duration == frames / fps
    raw, _ = decode_to_waveform(latent, vae, vocoder)
    assert raw.shape[-1] == (4 * latent.shape[2] - 3) * rate // 100
    kept = min(raw.shape[-1], wave.shape[-1])
    assert torch.equal(wave[..., :kept], raw[..., :kept]) and not wave[..., kept:].any()


def test_decode_to_waveform_matches_ltx_core_decode_audio(parts):
    from ltx_core.model.audio_vae import decode_audio

    vae_sd, hifi_sd, _ = parts
    _, decoder = oracle_vae(TINY_VAE)
    decoder.load_state_dict({k[len("decoder."):] if k.startswith("decoder.") else k: v
                             for k, v in vae_sd.items() if not k.startswith("encoder.")})
    ref_voc = oracle_vocoder(TINY_HIFIGAN)
    ref_voc.load_state_dict(hifi_sd)
    latent = torch.randn(1, 1, 5, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = decode_audio(latent, decoder.eval(), ref_voc.eval())
    wave, rate = decode_to_waveform(latent, load_audio_vae(vae_sd), load_vocoder(hifi_sd, config=TINY_HIFIGAN))
    assert rate == ref.sampling_rate and wave[0].shape == ref.waveform.shape
    assert max_rel(ref.waveform, wave[0]) <= 1e-5


class _TaggedOps:
    """An `operations` namespace whose layers are recognisable subclasses of torch.nn's."""

    class Conv1d(torch.nn.Conv1d):
        pass

    class Conv2d(torch.nn.Conv2d):
        pass

    class ConvTranspose1d(torch.nn.ConvTranspose1d):
        pass


@pytest.mark.parametrize("build", [
    lambda: AudioVAE(AudioVAEConfig.from_metadata(vae_metadata(mid_attention=True)), operations=_TaggedOps),
    lambda: Vocoder(VocoderConfig.from_metadata(TINY_HIFIGAN), operations=_TaggedOps),
    lambda: Vocoder(VocoderConfig.from_metadata(TINY_BIGVGAN), operations=_TaggedOps),
])
def test_every_weighted_layer_comes_from_operations(build):
    model = build()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    assert convs and all(type(m).__qualname__.startswith("_TaggedOps.") for m in convs)


def test_mixed_precision_decode(parts):
    vae_sd, _, big_sd = parts
    vae = load_audio_vae(vae_sd, dtype=torch.bfloat16)
    vocoder = load_vocoder(big_sd, config=TINY_BIGVGAN)
    latent = torch.randn(1, 1, 3, 16, generator=torch.Generator().manual_seed(6))
    wave, rate = decode_to_waveform(latent, vae, vocoder, duration_seconds=0.1)
    assert wave.dtype == torch.float32 and wave.shape == (1, 2, 4800) and rate == 48000


def test_runtime_needs_neither_torchaudio_nor_reference_packages():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('torchaudio', 'ltx_core', 'diffusers', 'transformers', 'comfy'): sys.modules[name] = None\n"
        "import torch\n"
        "from ltx2_core.audio import AudioVAE, AudioVAEConfig\n"
        "vae = AudioVAE(AudioVAEConfig(ch=16, z_channels=1, num_res_blocks=1))\n"
        "print(tuple(vae.encode(torch.zeros(1, 1, 8000), 22050).shape))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 1, 10, 16)"  # 8000 @ 22.05 kHz -> 5805 @ 16 kHz -> 37 mel frames


def _randomize_small(module, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in module.state_dict().items():
            if key == "latents_std":
                value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
            elif key.endswith("mel_basis"):
                value.copy_(torch.rand(value.shape, generator=gen) * 0.05)
            elif key.endswith("basis"):
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
            elif value.dim() == 1 and not key.endswith("filter"):
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
    return module.eval()


def test_diffusers_names_load_and_match():
    """diffusers' AutoencoderKLLTX2Audio / LTX2Vocoder / LTX2VocoderWithBWE state dicts load via the rename table."""
    from diffusers import AutoencoderKLLTX2Audio
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder, LTX2VocoderWithBWE

    with torch.random.fork_rng():  # the modules' own init draws from the global generator: fix it
        torch.manual_seed(0)
        ref_vae = _randomize_small(AutoencoderKLLTX2Audio(base_channels=16, latent_channels=1, num_res_blocks=1), 0)
        refs = (_randomize_small(LTX2Vocoder(hidden_channels=32), 3),
                _randomize_small(LTX2VocoderWithBWE(hidden_channels=64, bwe_hidden_channels=32), 3))
    vae = load_audio_vae(ref_vae.state_dict())  # config detected from shapes
    assert vae.config == AudioVAEConfig.from_metadata(TINY_VAE)
    latent = torch.randn(1, 1, 5, 16, generator=torch.Generator().manual_seed(1))
    mel = torch.randn(1, 2, 4, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert max_rel(ref_vae.decode(vae.per_channel_statistics.un_normalize(latent)).sample,
                       vae.decode(latent)) <= 1e-5
        for ref in refs:
            ours = load_vocoder(ref.state_dict())
            expected = ref(mel)
            assert 0.01 < expected.abs().max() < 0.99
            assert max_rel(expected, ours(mel)) <= 1e-5
