"""LTX-2.5 text path: a Gemma 4 text-encoder file (embedded config + tokenizer.json + projection) and a transformer
file (connectors) load into a TextEncoder whose (video, audio) contexts equal transformers' Gemma 4 hidden states
fed through ltx-core's EmbeddingsProcessor; wrong text encoders are refused with one line."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError
from ltx2_core.text import EmbeddingsConnector, FeatureExtractorConfig, TextProjection
from ltx2_core.text.gemma4.config import LTX_GEMMA4_VERSION
from ltx2_core.text.gemma4.loader import load_gemma4_text_encoder, read_gemma4_file

pytest.importorskip("ltx_core")
pytest.importorskip("transformers.models.gemma4_unified")

from test_gemma4_model import _pair  # noqa: E402
from test_gemma4_tokenizer import _tokenizer_json  # noqa: E402
from test_text_connectors import oracle_connector, oracle_extractor, randomize  # noqa: E402
from test_text_encoder import VERSIONS  # noqa: E402

PROMPTS = ["A red fox runs through snow at dawn.", "  the ocean, waves crash on rocks  "]
LENGTH = 16
NUM_STATES = 7  # tiny Gemma 4: 6 layers + embeddings
DIT_CONFIG = {"transformer": {
    "caption_proj_before_connector": True, "caption_projection_first_linear": False,
    "caption_proj_input_norm": False, "caption_projection_second_linear": False,
    "num_attention_heads": 4, "attention_head_dim": 12, "audio_num_attention_heads": 4,
    "audio_attention_head_dim": 6, "connector_num_attention_heads": 4, "connector_attention_head_dim": 12,
    "connector_num_layers": 2, "connector_apply_gated_attention": True, "audio_connector_num_attention_heads": 4,
    "audio_connector_attention_head_dim": 6, "rope_type": "split", "frequencies_precision": "float64",
    "connector_positional_embedding_max_pos": [4096]}}


def _u8(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from ltx_core.text_encoders.gemma.embeddings_processor import EmbeddingsProcessor

    tmp = tmp_path_factory.mktemp("g4")
    hf_gemma, ours = _pair(torch.float32, seed=3)
    v_cfg, a_cfg = VERSIONS["ltx23"][1:]
    fe = FeatureExtractorConfig.ltx23(64, NUM_STATES, video_dim=48, audio_dim=24)
    extractor = randomize(oracle_extractor(fe.version, fe.flat_dim, fe.embedding_dim, fe.video_dim, fe.audio_dim), 8)
    processor = EmbeddingsProcessor(feature_extractor=extractor, video_connector=randomize(oracle_connector(v_cfg), 9),
                                    audio_connector=randomize(oracle_connector(a_cfg), 10)).float().eval()
    sd = processor.state_dict()
    part = lambda prefix: {k[len(prefix):]: v.clone() for k, v in sd.items() if k.startswith(prefix)}  # noqa: E731
    projection = TextProjection(fe)
    projection.load_state_dict(part("feature_extractor."))
    tok_json = _tokenizer_json(False)
    hf_dict = {"model_type": "gemma4_unified", "gemma_version": LTX_GEMMA4_VERSION,
               "text_config": hf_gemma.config.to_dict()}
    te = {f"model.{k}": v.clone() for k, v in ours.state_dict().items()}
    te.update({f"text_embedding_projection.{k}": v for k, v in projection.state_dict().items()})
    te["tokenizer_json"] = _u8(tok_json.encode("utf-8"))
    te["hf_asset__tokenizer_config.json"] = _u8(b"{}")
    te["vision_model.patch_embedder.weight"] = torch.ones(2, 2)
    te["multi_modal_projector.weight"] = torch.ones(2, 2)
    save_file(te, str(tmp / "te.safetensors"), metadata={"gemma_config": json.dumps(hf_dict)})
    stock = dict(hf_dict)
    stock.pop("gemma_version")
    save_file(te, str(tmp / "stock.safetensors"), metadata={"gemma_config": json.dumps(stock)})
    gemma3 = dict(hf_dict, model_type="gemma3")
    save_file(te, str(tmp / "g3meta.safetensors"), metadata={"gemma_config": json.dumps(gemma3)})
    save_file({"model.layers.0.post_feedforward_layernorm.weight": torch.ones(3)}, str(tmp / "gemma3.safetensors"))
    dit = {}
    for stream in ("video", "audio"):
        prefix = f"model.diffusion_model.{stream}_embeddings_connector."
        dit.update({prefix + k: v for k, v in part(f"{stream}_connector.").items()})
    dit["model.diffusion_model.keyframes_abs_pos_embedding"] = torch.zeros(1, 4)
    save_file(dit, str(tmp / "dit.safetensors"), metadata={
        "config": json.dumps(DIT_CONFIG), "model_version": "2.5.0",
        "gemma_source_checkpoint": json.dumps({"ltx_version": "2.5.0", "gemma_version": LTX_GEMMA4_VERSION})})
    return tmp, hf_gemma, processor


def test_loaded_text_path_matches_transformers_and_ltx_core(files):
    tmp, hf_gemma, processor = files
    encoder = load_gemma4_text_encoder(tmp / "te.safetensors", str(tmp / "dit.safetensors"), max_length=LENGTH)
    assert isinstance(encoder.video_connector, EmbeddingsConnector)
    ctx = encoder.encode(PROMPTS, use_cache=False)
    assert ctx.video.shape == (2, LENGTH, 48) and ctx.audio.shape == (2, LENGTH, 24)
    for row, prompt in enumerate(PROMPTS):
        ids, mask = encoder.tokenize([prompt])
        assert ids[0, mask[0].argmax()].item() == 2  # BOS prepended
        with torch.no_grad():
            states = hf_gemma(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            ref = processor.process_hidden_states(states, mask, "left")
        for a, b in ((ctx.video[row], ref.video_encoding[0]), (ctx.audio[row], ref.audio_encoding[0])):
            assert ((a - b).norm() / b.norm()).item() <= 1e-5


def test_file_parts_and_towers_skipped(files):
    tmp = files[0]
    packed = read_gemma4_file(tmp / "te.safetensors")
    assert packed.config.num_layers == 6 and packed.config.global_head_dim == 64
    assert packed.config.gemma_version == LTX_GEMMA4_VERSION
    assert "layers.0.layer_scalar" in packed.lm and not any(k.startswith("vision") for k in packed.lm)
    assert "layers.5.self_attn.v_proj.weight" not in packed.lm
    assert set(packed.projection) == {"text_embedding_projection.video_aggregate_embed.weight",
                                      "text_embedding_projection.video_aggregate_embed.bias",
                                      "text_embedding_projection.audio_aggregate_embed.weight",
                                      "text_embedding_projection.audio_aggregate_embed.bias"}


def test_stock_gemma4_is_refused(files):
    tmp = files[0]
    with pytest.raises(CheckpointError, match="gemma_version none.*stock Gemma 4") as err:
        load_gemma4_text_encoder(tmp / "stock.safetensors", str(tmp / "dit.safetensors"))
    assert "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="needs 'other-v2'"):
        read_gemma4_file(tmp / "te.safetensors",
                         dit_metadata={"gemma_source_checkpoint": json.dumps({"gemma_version": "other-v2"})})


def test_gemma3_file_where_gemma4_is_needed(files):
    tmp = files[0]
    with pytest.raises(CheckpointError, match="looks like a Gemma 3 file") as err:
        load_gemma4_text_encoder(tmp / "gemma3.safetensors", str(tmp / "dit.safetensors"))
    assert "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="model_type 'gemma3', not Gemma 4"):
        read_gemma4_file(tmp / "g3meta.safetensors")


def test_component_loader_takes_the_gemma4_path_for_a_25_transformer(files):
    """The CLI / pipeline entry (`load_text_encoder_files`) loads the Gemma 4 file for a 2.5 transformer and
    encodes exactly as the Gemma 4 loader does; a Gemma 3 file for the same transformer is refused in one line."""
    from ltx2_core.pipeline.component_files import load_text_encoder_files

    tmp = files[0]
    dit = str(tmp / "dit.safetensors")
    ours = load_text_encoder_files(str(tmp / "te.safetensors"), dit, torch.float32, "cpu")
    direct = load_gemma4_text_encoder(tmp / "te.safetensors", dit)
    a, b = ours.encode(PROMPTS, use_cache=False), direct.encode(PROMPTS, use_cache=False)
    assert type(ours.gemma).__name__ == "Gemma4TextModel"
    assert torch.equal(a.video, b.video) and torch.equal(a.audio, b.audio)
    with pytest.raises(CheckpointError, match="Gemma 3 text encoder.*needs its Gemma 4") as err:
        load_text_encoder_files(str(tmp / "gemma3.safetensors"), dit, torch.float32, "cpu")
    assert "\n" not in str(err.value)
