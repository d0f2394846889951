"""Shared helpers for the audio tests: tiny/full configs (metadata form) and ltx-core oracle builders.

ltx-core (test oracle only) imports torchaudio at module level; here torchaudio is pure Python.
"""

import copy

import torch


def vae_metadata(ch=8, z=2, mel_bins=16, res_blocks=1, mid_attention=False):
    """An `audio_vae` metadata section (tiny by default; stats length = ch = z * mel_bins / 4)."""
    return {"audio_vae": {
        "model": {"params": {"sampling_rate": 16000, "ddconfig": {
            "double_z": True, "mel_bins": mel_bins, "z_channels": z, "resolution": 256, "downsample_time": False,
            "in_channels": 2, "out_ch": 2, "ch": ch, "ch_mult": [1, 2, 4], "num_res_blocks": res_blocks,
            "attn_resolutions": [], "dropout": 0.0, "mid_block_add_attention": mid_attention,
            "norm_type": "pixel", "causality_axis": "height"}}},
        "preprocessing": {"audio": {"sampling_rate": 16000, "stereo": True},
                          "stft": {"filter_length": 1024, "hop_length": 160, "win_length": 1024, "causal": True},
                          "mel": {"n_mel_channels": mel_bins, "mel_fmin": 0, "mel_fmax": 8000}}}}


FULL_VAE_METADATA = vae_metadata(ch=128, z=8, mel_bins=64, res_blocks=2)

_RES = {"resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]]}


def hifigan_metadata(channels=1024):
    return {"vocoder": dict(upsample_initial_channel=channels, upsample_rates=[6, 5, 2, 2, 2],
                            upsample_kernel_sizes=[16, 15, 8, 4, 4], resblock="1", stereo=True, **_RES)}


def bigvgan_metadata(base=1536, bwe=512):
    return {"vocoder": {
        "vocoder": dict(upsample_initial_channel=base, resblock="AMP1", upsample_rates=[5, 2, 2, 2, 2, 2],
                        upsample_kernel_sizes=[11, 4, 4, 4, 4, 4], use_tanh_at_final=False,
                        activation="snakebeta", use_bias_at_final=False, stereo=True, **_RES),
        "bwe": dict(upsample_initial_channel=bwe, resblock="AMP1", upsample_rates=[6, 5, 2, 2, 2],
                    upsample_kernel_sizes=[12, 11, 4, 4, 4], activation="snakebeta", use_bias_at_final=False,
                    apply_final_activation=False, stereo=True, input_sampling_rate=16000,
                    output_sampling_rate=48000, hop_length=80, n_fft=512, win_size=512, num_mels=64, **_RES)}}


def oracle_vae(meta, seed=0):
    """(ltx-core AudioEncoder, AudioDecoder) built from a metadata config (seeded default init)."""
    from ltx_core.model.audio_vae.model_configurator import AudioDecoderConfigurator, AudioEncoderConfigurator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AudioEncoderConfigurator.from_config(meta), AudioDecoderConfigurator.from_config(meta)


def oracle_vocoder(meta, seed=0):
    """ltx-core Vocoder / VocoderWithBWE built from a metadata config (seeded default init)."""
    from ltx_core.model.audio_vae.model_configurator import VocoderConfigurator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VocoderConfigurator.from_config(meta)


def randomize_vae(encoder, decoder, seed=0):
    """Random weights and stats in both oracle halves (same stats); returns our `audio_vae.`-free state dict."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    with torch.no_grad():
        for name, module in (("encoder.", encoder), ("decoder.", decoder)):
            for key, value in module.state_dict().items():
                if key.startswith("per_channel_statistics."):
                    if key not in sd:
                        noise = torch.randn(value.shape, generator=gen)
                        sd[key] = noise.abs() + 0.5 if "std" in key else 0.3 * noise
                    value.copy_(sd[key])
                    continue
                fan_in = value[0].numel() if value.dim() > 1 else 1
                value.copy_(torch.randn(value.shape, generator=gen) / fan_in ** 0.5)
                sd[name + key] = value.detach().clone()
    return sd


def randomize_vocoder(vocoder, seed=0):
    """Random biases / snake parameters / mel bases in an oracle vocoder (conv weights keep their init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in vocoder.state_dict().items():
            if key.endswith("filter"):
                continue
            if key.endswith("mel_basis"):
                value.copy_(torch.rand(value.shape, generator=gen) * 0.05)
            elif key.endswith("basis"):
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
            elif value.dim() == 1:
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
            else:
                value.copy_(value + 0.01 * torch.randn(value.shape, generator=gen))
    return {k: v.detach().clone() for k, v in vocoder.state_dict().items()}


def max_rel(a, b):
    """max |a - b| / max |a| (the relative error used in all audio parity tests)."""
    return ((a - b).abs().max() / a.abs().max()).item()


def deep(meta):
    return copy.deepcopy(meta)
