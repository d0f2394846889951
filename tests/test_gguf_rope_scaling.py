"""A Gemma GGUF's RoPE scaling: what the file states, else its declared variant's value with a warning."""

import json
import warnings

import gguf
import pytest
from safetensors.torch import save_file

from ltx2_core.convert import convert
from ltx2_core.errors import UnsupportedFormatError
from ltx2_core.gguf.loader import gemma_config_from_gguf
from ltx2_core.gguf.reader import GGUFFile
from ltx2_core.text import GemmaConfig, GemmaTextModel


def gemma_gguf(path, layers=48, width=3840, scaling=None):
    """A metadata-only `gemma3` GGUF: sizes, and `scaling` = {field suffix: value} under gemma3.rope."""
    writer = gguf.GGUFWriter(str(path), arch="gemma3")
    writer.add_uint32("gemma3.block_count", layers)
    writer.add_uint32("gemma3.embedding_length", width)
    writer.add_uint32("gemma3.attention.head_count", 16)
    writer.add_uint32("gemma3.attention.head_count_kv", 8)
    writer.add_uint32("gemma3.attention.key_length", 256)
    for suffix, value in (scaling or {}).items():
        (writer.add_string if isinstance(value, str) else writer.add_float32)(f"gemma3.rope.{suffix}", value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return GGUFFile(str(path))


@pytest.mark.parametrize("scaling, factor", [
    ({"scaling.type": "linear", "scaling.factor": 4.0}, 4.0),
    ({"scaling.factor": 2.0}, 2.0),  # llama.cpp's default type is linear
    ({"scale_linear": 3.0}, 3.0),  # the older spelling
    ({"scaling.type": "none"}, 1.0),
])
def test_stated_scaling_is_used_without_warning(tmp_path, scaling, factor):
    file = gemma_gguf(tmp_path / "g.gguf", scaling=scaling)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gemma_config_from_gguf(file).rope_global_scaling == factor


@pytest.mark.parametrize("layers, width, factor, name", [
    (48, 3840, 8.0, "Gemma 3 12B"), (26, 1152, 1.0, "Gemma 3 1B"), (34, 2560, 8.0, "Gemma 3 4B"),
    (6, 64, 8.0, "Gemma 3 12B (the LTX-2 text encoder)"),
])
def test_silent_file_gets_its_variants_value_with_a_warning(tmp_path, layers, width, factor, name):
    file = gemma_gguf(tmp_path / "g.gguf", layers=layers, width=width)
    with pytest.warns(UserWarning, match="states no RoPE scaling") as record:
        config = gemma_config_from_gguf(file)
    assert config.rope_global_scaling == factor
    message = str(record[0].message)
    assert f"using {name}'s linear factor {factor:g}" in message and f"{layers}-layer, {width}-wide" in message


def test_unsupported_scaling_type_is_refused(tmp_path):
    file = gemma_gguf(tmp_path / "g.gguf", scaling={"scaling.type": "yarn", "scaling.factor": 8.0})
    with pytest.raises(UnsupportedFormatError, match="RoPE scaling 'yarn'"):
        gemma_config_from_gguf(file)


@pytest.mark.parametrize("factor", [1.0, 8.0])
def test_converter_states_the_scaling_so_the_round_trip_is_exact(tmp_path, factor):
    config = GemmaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2,
                         num_kv_heads=1, head_dim=16, query_pre_attn_scalar=16.0, sliding_window=4,
                         layer_types=("sliding", "global"), rope_global_scaling=factor)
    model = GemmaTextModel(config)
    state = {"model." + k: v.detach().clone().normal_(0, 0.02) for k, v in model.state_dict().items()}
    save_file(state, str(tmp_path / "g.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({  # the converter reads the scaling from config.json
        "model_type": "gemma3_text", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "sliding_window": 4,
        "layer_types": ["sliding_attention", "full_attention"],
        "rope_scaling": {"rope_type": "linear", "factor": factor} if factor != 1.0 else None}))
    convert(str(tmp_path / "g.safetensors"), str(tmp_path / "g.gguf"), "Q8_0", min_elements=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = gemma_config_from_gguf(GGUFFile(str(tmp_path / "g.gguf")))
    assert loaded.rope_global_scaling == factor
