"""Feature extractors (LTX-2 v1, LTX-2.3 v2) and embeddings connectors: parity with ltx-core 1.0.0."""

import pytest
import torch

from ltx2_core.checkpoint import load_strict
from ltx2_core.errors import CheckpointError, InputError
from ltx2_core.text import ConnectorConfig, EmbeddingsConnector, FeatureExtractorConfig, TextProjection
from ltx2_core.text.connectors import build_connector
from ltx2_core.text.feature_extractor import build_text_projection

pytest.importorskip("ltx_core")


def randomize(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3 + (1.0 if p.ndim == 1 else 0.0))
    return module


def states_and_mask(batch_pads, tokens=8, dim=16, count=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    states = [torch.randn(len(batch_pads), tokens, dim, generator=g, dtype=torch.float64).to(dtype) * (i + 1)
              for i in range(count)]
    mask = torch.ones(len(batch_pads), tokens, dtype=torch.long)
    for row, pad in enumerate(batch_pads):
        mask[row, :pad] = 0
    return states, mask


def oracle_extractor(version, flat, dim, video, audio):
    from ltx_core.text_encoders.gemma.feature_extractor import FeatureExtractorV1, FeatureExtractorV2

    if version == "v1":
        return FeatureExtractorV1(torch.nn.Linear(flat, dim, bias=False), is_av=True)
    return FeatureExtractorV2(torch.nn.Linear(flat, video, bias=True), dim,
                              torch.nn.Linear(flat, audio, bias=True))


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_feature_extractor_matches_ltx_core(version, dtype, tol):
    dim, count = 16, 5
    config = (FeatureExtractorConfig.ltx2(dim, count) if version == "v1"
              else FeatureExtractorConfig.ltx23(dim, count, video_dim=24, audio_dim=12))
    oracle = randomize(oracle_extractor(version, dim * count, dim, 24, 12), 1).to(dtype)
    ours = load_strict(TextProjection(config, device="meta", dtype=dtype), dict(oracle.state_dict()), "proj")
    states, mask = states_and_mask([0, 3], dim=dim, count=count, dtype=dtype)
    with torch.no_grad():
        video, audio = ours(states, mask)
        ref_video, ref_audio = oracle(tuple(states), mask, "left")
    ref_audio = ref_video if ref_audio is None else ref_audio
    for a, b in ((video, ref_video), (audio, ref_audio)):
        assert a.dtype == dtype and a.shape == b.shape
        err = ((a - b).norm() / b.norm()).item() if dtype == torch.float32 else (a - b).abs().max().item()
        assert err <= tol, err
    assert torch.all(video[1, :3] == (0 if version == "v1" else ours.video_aggregate_embed.bias))  # pads zeroed


def oracle_connector(cfg: ConnectorConfig):
    from ltx_core.model.transformer.rope import LTXRopeType
    from ltx_core.text_encoders.gemma.embeddings_connector import Embeddings1DConnector

    return Embeddings1DConnector(
        attention_head_dim=cfg.head_dim, num_attention_heads=cfg.heads, num_layers=cfg.num_layers,
        positional_embedding_max_pos=list(cfg.max_pos), num_learnable_registers=cfg.num_registers,
        rope_type=LTXRopeType(cfg.rope_type), double_precision_rope=cfg.double_precision_rope,
        apply_gated_attention=cfg.gated,
    )


CONNECTORS = {
    "ltx2": ConnectorConfig(heads=2, head_dim=8, num_layers=2, num_registers=4, gated=False),
    "ltx23": ConnectorConfig(heads=4, head_dim=4, num_layers=3, num_registers=4, gated=True),
    "legacy_interleaved": ConnectorConfig(heads=2, head_dim=8, num_layers=1, num_registers=8, rope_type="interleaved",
                                          double_precision_rope=False, max_pos=(1.0,)),
}


@pytest.mark.parametrize("name", list(CONNECTORS))
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_connector_matches_ltx_core(name, dtype, tol):
    cfg = CONNECTORS[name]
    oracle = randomize(oracle_connector(cfg), 2).to(dtype).eval()
    ours = load_strict(EmbeddingsConnector(cfg, device="meta", dtype=dtype),
                       {k: v.clone() for k, v in oracle.state_dict().items()}, "connector")
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 16, cfg.width, generator=g, dtype=torch.float64).to(dtype)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, :11] = 0  # 5 real tokens
    from ltx_core.text_encoders.gemma.embeddings_processor import convert_to_additive_mask

    with torch.no_grad():
        mine = ours(x, mask)
        for row in range(2):  # ltx-core's register replacement handles one item at a time
            ref, ref_mask = oracle(x[row:row + 1], convert_to_additive_mask(mask[row:row + 1], dtype))
            a, b = mine[row], ref[0]
            err = ((a - b).norm() / b.norm()).item() if dtype == torch.float32 else (a - b).abs().max().item()
            assert err <= tol, (row, err)
            assert torch.all(ref_mask == 0)  # all positions valid afterwards


def test_registers_fill_padding_after_real_tokens():
    cfg = ConnectorConfig(heads=1, head_dim=4, num_layers=1, num_registers=4)
    conn = randomize(EmbeddingsConnector(cfg), 3)
    x = torch.arange(8 * 4, dtype=torch.float32).view(1, 8, 4)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1]])
    h = conn.with_registers(x, mask)
    assert torch.equal(h[0, :5], x[0, 3:])  # 5 real tokens moved to the front, in order
    assert torch.equal(h[0, 5], conn.learnable_registers[1].detach())  # position p gets register p mod 4
    assert torch.equal(h[0, 7], conn.learnable_registers[3].detach())
    with pytest.raises(InputError, match="divisible by 4"):
        conn(torch.zeros(1, 6, 4), torch.ones(1, 6))


def test_configs_from_metadata_and_shapes():
    meta = {"transformer": {
        "caption_proj_before_connector": True, "caption_projection_first_linear": False,
        "caption_proj_input_norm": False, "caption_projection_second_linear": False,
        "num_attention_heads": 32, "attention_head_dim": 128, "audio_num_attention_heads": 32,
        "audio_attention_head_dim": 64, "connector_num_attention_heads": 32, "connector_attention_head_dim": 128,
        "connector_num_layers": 8, "connector_apply_gated_attention": True, "audio_connector_attention_head_dim": 64,
        "rope_type": "split", "frequencies_precision": "float64", "connector_positional_embedding_max_pos": [4096],
    }}
    fe = FeatureExtractorConfig.from_metadata(meta)
    assert (fe.version, fe.video_dim, fe.audio_dim, fe.flat_dim) == ("v2", 4096, 2048, 188160)
    video, audio = ConnectorConfig.from_metadata(meta, "video"), ConnectorConfig.from_metadata(meta, "audio")
    assert (video.width, video.num_layers, video.gated, video.rope_type) == (4096, 8, True, "split")
    assert (audio.width, audio.heads, audio.head_dim, audio.double_precision_rope) == (2048, 32, 64, True)
    assert FeatureExtractorConfig.from_metadata({"transformer": {}}).version == "v1"
    with pytest.raises(CheckpointError, match="Unsupported text projection"):
        FeatureExtractorConfig.from_metadata({"transformer": {"caption_proj_before_connector": True}})
    # shapes of the full-size LTX-2.3 audio connector, read on the meta device
    full = EmbeddingsConnector(audio, device="meta")
    detected = ConnectorConfig.from_state_dict(full.state_dict())
    assert detected == ConnectorConfig(heads=32, head_dim=64, num_layers=8, gated=True)
    ltx2 = EmbeddingsConnector(ConnectorConfig(), device="meta")
    assert ConnectorConfig.from_state_dict(ltx2.state_dict()) == ConnectorConfig()


def test_full_size_keys_match_ltx_core_on_meta():
    from ltx_core.text_encoders.gemma.encoders.encoder_configurator import EmbeddingsProcessorConfigurator

    for meta in ({"transformer": {"connector_positional_embedding_max_pos": [4096], "rope_type": "split"}},
                 {"transformer": {"caption_proj_before_connector": True, "caption_projection_first_linear": False,
                                  "caption_proj_input_norm": False, "caption_projection_second_linear": False,
                                  "num_attention_heads": 32, "attention_head_dim": 128, "audio_num_attention_heads": 32,
                                  "audio_attention_head_dim": 64, "connector_num_attention_heads": 32,
                                  "connector_num_layers": 8, "connector_apply_gated_attention": True,
                                  "audio_connector_attention_head_dim": 64, "rope_type": "split"}}):
        with torch.device("meta"):
            oracle = EmbeddingsProcessorConfigurator.from_config(meta)
        ref = {k: tuple(v.shape) for k, v in oracle.state_dict().items()}
        proj = TextProjection(FeatureExtractorConfig.from_metadata(meta), device="meta")
        mine = {"feature_extractor." + k: tuple(v.shape) for k, v in proj.state_dict().items()}
        for stream in ("video", "audio"):
            conn = EmbeddingsConnector(ConnectorConfig.from_metadata(meta, stream), device="meta")
            mine.update({f"{stream}_connector.{k}": tuple(v.shape) for k, v in conn.state_dict().items()})
        assert mine == ref


def test_build_from_checkpoint_keys():
    cfg = CONNECTORS["ltx23"]
    conn = randomize(EmbeddingsConnector(cfg), 4)
    proj = randomize(TextProjection(FeatureExtractorConfig.ltx23(8, 3, video_dim=16, audio_dim=16)), 5)
    ckpt = {f"model.diffusion_model.video_embeddings_connector.{k}": v for k, v in conn.state_dict().items()}
    ckpt.update({f"text_embedding_projection.{k}": v for k, v in proj.state_dict().items()})
    ckpt["model.diffusion_model.patchify_proj.weight"] = torch.zeros(2, 2)
    built = build_connector(ckpt, "video")
    assert built.config == ConnectorConfig(heads=4, head_dim=4, num_layers=3, num_registers=4, gated=True)
    assert all(torch.equal(built.state_dict()[k], v) for k, v in conn.state_dict().items())
    built_proj = build_text_projection(ckpt, num_states=3)
    assert built_proj.config == proj.config
    with pytest.raises(CheckpointError, match="audio embeddings connector"):
        build_connector(ckpt, "audio")
