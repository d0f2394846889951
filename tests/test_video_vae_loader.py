"""Video VAE loading: single-file layout (`vae.` prefix) and VAE-only files, config from metadata or
keys, strict key accounting and clear errors."""

import json

import pytest
import torch
from _video_vae_oracle import LATENT, state_shapes, tiny_metadata
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError
from ltx2_core.video_vae import VideoVAE, VideoVAEConfig, load_video_vae
from ltx2_core.video_vae.keys import detect_preset


def tiny_state(timestep_conditioning: bool = False, prefix: str = "vae.") -> dict:
    vae = VideoVAE(VideoVAEConfig.from_metadata(tiny_metadata(timestep_conditioning=timestep_conditioning)))
    gen = torch.Generator().manual_seed(0)
    state = {prefix + k: torch.randn(v.shape, generator=gen) * 0.1 for k, v in vae.state_dict().items()}
    state[prefix + "per_channel_statistics.std-of-means"] = torch.rand(LATENT, generator=gen) + 0.5
    state[prefix + "per_channel_statistics.mean-of-stds"] = torch.rand(LATENT, generator=gen)  # unused extra
    return state


def test_load_single_file_checkpoint_with_metadata(tmp_path):
    state = tiny_state()
    state["model.diffusion_model.proj.weight"] = torch.zeros(2, 2)  # other parts of the monolith are ignored
    state["audio_vae.encoder.conv_in.weight"] = torch.zeros(2)
    path = tmp_path / "ltx.safetensors"
    save_file(state, str(path), metadata={"config": json.dumps({"vae": tiny_metadata(), "transformer": {}})})
    vae = load_video_vae(str(path), dtype=torch.float64)
    assert vae.components == ("encoder", "decoder") and vae.latent_channels == LATENT
    assert vae.decoder.conv_in.conv.weight.dtype == torch.float64
    assert vae.per_channel_statistics.get_buffer("std-of-means").dtype == torch.float32
    assert torch.equal(vae.decoder.conv_out.conv.weight, state["vae.decoder.conv_out.conv.weight"].double())
    z = torch.randn(1, LATENT, 2, 1, 1, dtype=torch.float64)
    assert vae.decode(z).shape == (1, 3, 9, 32, 32)


def test_load_vae_only_file_without_prefix_and_from_mapping(tmp_path):
    bare = tiny_state(prefix="")
    path = tmp_path / "vae.safetensors"
    save_file(bare, str(path), metadata={"config": json.dumps({"vae": tiny_metadata()})})
    from_file = load_video_vae(path)
    from_map = load_video_vae(tiny_state(), config=tiny_metadata())
    for (k1, v1), (k2, v2) in zip(from_file.state_dict().items(), from_map.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)


def test_decoder_only_load_and_timestep_flag_from_keys():
    state = tiny_state(timestep_conditioning=True)
    meta = tiny_metadata(timestep_conditioning=False)  # keys win over a wrong flag
    vae = load_video_vae(state, config=meta, components=("decoder",))
    assert vae.encoder is None and vae.config.timestep_conditioning
    assert "decoder.last_scale_shift_table" in vae.state_dict()


def test_missing_and_unexpected_keys_are_reported():
    state = tiny_state()
    del state["vae.decoder.conv_in.conv.bias"]
    state["vae.decoder.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\): decoder\.conv_in\.conv\.bias.*unexpected.*extra"):
        load_video_vae(state, config=tiny_metadata())


def test_shape_mismatch_and_wrong_files():
    state = tiny_state()
    state["vae.encoder.conv_in.conv.bias"] = torch.zeros(LATENT + 1)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_video_vae(state, config=tiny_metadata())
    with pytest.raises(CheckpointError, match="no video VAE weights"):
        load_video_vae({"model.diffusion_model.x": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="no video VAE encoder"):
        load_video_vae({k: v for k, v in tiny_state().items() if ".encoder." not in k}, config=tiny_metadata(),
                       components=("encoder", "decoder"))
    with pytest.raises(CheckpointError, match="neither the LTX-2 nor the LTX-2.3"):
        load_video_vae(tiny_state())  # no metadata, not a released layout
    with pytest.raises(CheckpointError, match="not supported"):
        VideoVAEConfig.from_metadata({"vae": {**tiny_metadata(), "decoder_blocks": [["attn_res_x", 1]]}})


def test_truncated_file(tmp_path):
    path = tmp_path / "vae.safetensors"
    save_file(tiny_state(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_video_vae(str(path))


@pytest.mark.parametrize("preset", [VideoVAEConfig.ltx2, VideoVAEConfig.ltx23])
def test_released_layouts_are_detected_from_key_shapes(preset):
    shapes = state_shapes(VideoVAE(preset(), device="meta"))
    assert detect_preset(shapes) == preset()
    decoder_only = {k: v for k, v in shapes.items() if not k.startswith("encoder.")}
    assert detect_preset(decoder_only) == preset()
