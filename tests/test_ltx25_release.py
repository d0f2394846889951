"""LTX-2.5 detection from metadata and the text-encoder pairing rule (one line each)."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError
from ltx2_core.release import (LTX25_GEMMA, Release, check_text_encoder_file, check_text_encoder_pair, release_of,
                               text_encoder_kind)

LTX25_META = {"model_version": "2.5.0",
              "gemma_source_checkpoint": json.dumps({"ltx_version": "2.5.0", "gemma_version": LTX25_GEMMA})}


def test_release_of_metadata():
    assert release_of(LTX25_META) == Release((2, 5, 0), LTX25_GEMMA)
    assert release_of(LTX25_META).is_ltx25 and release_of(LTX25_META).label == "LTX-2.5.0"
    assert release_of({"model_version": "2.3.0-demo"}) == Release((2, 3, 0), None)
    assert not release_of({"model_version": "2.3.0"}).is_ltx25 and not release_of(None).is_ltx25
    with pytest.raises(CheckpointError, match="not valid JSON"):
        release_of({"gemma_source_checkpoint": "{"})


def test_text_encoder_kind_from_config_and_keys():
    gemma4 = {"gemma_config": json.dumps({"model_type": "gemma4_unified", "gemma_version": LTX25_GEMMA})}
    assert text_encoder_kind([], gemma4).gemma_version == LTX25_GEMMA
    g4_keys = ["model.layers.5.self_attn.k_proj.weight", "model.layers.4.self_attn.v_proj.weight"]
    assert text_encoder_kind(g4_keys).family == "gemma4"
    assert text_encoder_kind(g4_keys + ["model.layers.5.self_attn.v_proj.weight"]).family == "gemma3"


@pytest.mark.parametrize("transformer,encoder,message", [
    (Release((2, 5, 0), LTX25_GEMMA), ("gemma3", None), "is a Gemma 3 text encoder, but t.safetensors is an LTX-2.5.0"),
    (Release((2, 3, 0)), ("gemma4", LTX25_GEMMA), "is a Gemma 4 text encoder, but t.safetensors is an LTX-2 / LTX-2.3"),
    (Release((2, 5, 0), LTX25_GEMMA), ("gemma4", None), "a stock Gemma 4 does not work"),
    (Release((2, 5, 0)), ("gemma4", LTX25_GEMMA), "declares no gemma_source_checkpoint"),
])
def test_mismatched_pairs_are_one_line(transformer, encoder, message):
    from ltx2_core.release import TextEncoderKind

    with pytest.raises(CheckpointError, match=message) as info:
        check_text_encoder_pair(transformer, TextEncoderKind(*encoder), "t.safetensors", "te.safetensors")
    assert "\n" not in str(info.value)


def test_matching_pairs_pass():
    from ltx2_core.release import TextEncoderKind

    check_text_encoder_pair(Release((2, 5, 0), LTX25_GEMMA), TextEncoderKind("gemma4", LTX25_GEMMA), "t", "te")
    check_text_encoder_pair(Release((2, 3, 0)), TextEncoderKind("gemma3"), "t", "te")
    check_text_encoder_pair(Release(), TextEncoderKind("gemma3"), "t", "te")


def test_files_gemma3_with_ltx25_transformer(tmp_path):
    transformer, encoder = tmp_path / "ltx-2.5-transformer.safetensors", tmp_path / "gemma3.safetensors"
    save_file({"model.diffusion_model.patchify_proj.weight": torch.zeros(1)}, str(transformer), LTX25_META)
    save_file({"model.layers.5.self_attn.k_proj.weight": torch.zeros(1),
               "model.layers.5.self_attn.v_proj.weight": torch.zeros(1)}, str(encoder))
    with pytest.raises(CheckpointError, match="gemma3.safetensors is a Gemma 3 text encoder, but "
                                              "ltx-2.5-transformer.safetensors is an LTX-2.5.0 transformer"):
        check_text_encoder_file(str(encoder), str(transformer))


def test_matching_gemma4_file_is_accepted_and_a_gemma4_gguf_refused(tmp_path):
    from ltx2_core.errors import UnsupportedFormatError
    from ltx2_core.release import TextEncoderKind

    transformer, encoder = tmp_path / "ltx-2.5-transformer.safetensors", tmp_path / "gemma4.safetensors"
    save_file({"model.diffusion_model.patchify_proj.weight": torch.zeros(1)}, str(transformer), LTX25_META)
    save_file({"model.layers.5.self_attn.k_proj.weight": torch.zeros(1)}, str(encoder),
              {"gemma_config": json.dumps({"model_type": "gemma4_unified", "gemma_version": LTX25_GEMMA})})
    assert check_text_encoder_file(str(encoder), str(transformer)) == TextEncoderKind("gemma4", LTX25_GEMMA)
    gguf = tmp_path / "gemma4.gguf"
    _write_gemma4_gguf(gguf)
    with pytest.raises(UnsupportedFormatError, match="gemma4.gguf is a GGUF Gemma 4, which this build cannot load"):
        check_text_encoder_file(str(gguf), str(transformer))
    ltx23 = tmp_path / "ltx-2.3.safetensors"
    save_file({"model.diffusion_model.patchify_proj.weight": torch.zeros(1)}, str(ltx23), {"model_version": "2.3.0"})
    with pytest.raises(CheckpointError, match="needs the Gemma 3 12B text encoder"):
        check_text_encoder_file(str(encoder), str(ltx23))


def _write_gemma4_gguf(path):
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "gemma4")
    writer.add_tensor("token_embd.weight", np.zeros((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
