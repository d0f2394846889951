"""Torch dequantization and quantization of ggml block formats vs the `gguf` package (bit for bit)."""

import numpy as np
import pytest
import torch

import gguf  # a runtime dependency: never skipped
from gguf import GGMLQuantizationType as Q  # noqa: E402

from ltx2_core.errors import InputError, UnsupportedFormatError  # noqa: E402
from ltx2_core.gguf import dequant  # noqa: E402
from ltx2_core.gguf.quantize import quantize  # noqa: E402

# Byte offsets of the fp16 scales inside each block (random payload bytes elsewhere).
SCALE_OFFSETS = {
    "Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,), "IQ4_NL": (0,), "IQ4_XS": (0,),
    "Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,),
}


def random_blocks(name: str, n_blocks: int, seed: int = 0) -> np.ndarray:
    """Random payload bytes with sane fp16 scales (gguf cannot quantize K-quants / IQ types)."""
    rng = np.random.default_rng(seed)
    _, size = gguf.GGML_QUANT_SIZES[Q[name]]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for offset in SCALE_OFFSETS[name]:
        raw[:, offset:offset + 2] = rng.uniform(-2, 2, size=(n_blocks, 1)).astype(np.float16).view(np.uint8)
    return raw


@pytest.mark.parametrize("name", sorted(SCALE_OFFSETS))
def test_dequantize_matches_gguf_bit_for_bit(name):
    block, _ = gguf.GGML_QUANT_SIZES[Q[name]]
    raw = random_blocks(name, 96)
    expected = gguf.quants.dequantize(raw, Q[name]).reshape(-1)
    # a small chunk size makes the kernel run over several chunks, including a partial one
    ours = dequant.dequantize(torch.from_numpy(raw), dequant.TYPE_IDS[name], (96 * block,), chunk_values=40 * block)
    assert ours.dtype == torch.float32
    assert np.array_equal(ours.numpy().view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("name", ["F32", "F16", "BF16"])
def test_float_types_match_gguf(name):
    values = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    raw = gguf.quants.quantize(values, Q[name])
    expected = gguf.quants.dequantize(raw, Q[name])
    ours = dequant.dequantize(torch.from_numpy(np.ascontiguousarray(raw)).view(torch.uint8), Q[name].value, (8, 64))
    assert np.array_equal(ours.numpy(), expected)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_dequantize_into_compute_dtype_is_the_rounded_float32_result(dtype):
    raw = torch.from_numpy(random_blocks("Q4_K", 8))
    full = dequant.dequantize(raw, dequant.TYPE_IDS["Q4_K"], (8, 256))
    cast = dequant.dequantize(raw, dequant.TYPE_IDS["Q4_K"], (8, 256), dtype=dtype, chunk_values=512)
    assert cast.dtype == dtype and torch.equal(cast, full.to(dtype))


def test_unsupported_type_names_the_type():
    with pytest.raises(UnsupportedFormatError, match="IQ2_XXS"):
        dequant.dequantize(torch.zeros(66, dtype=torch.uint8), dequant.TYPE_IDS["IQ2_XXS"], (256,))
    with pytest.raises(UnsupportedFormatError, match="not a whole number"):
        dequant.dequantize(torch.zeros(35, dtype=torch.uint8), dequant.TYPE_IDS["Q8_0"], (32,))


@pytest.mark.parametrize("name", ["Q8_0", "Q5_0", "Q5_1", "Q4_0", "Q4_1"])
def test_quantize_matches_gguf_bytes(name):
    rng = np.random.default_rng(2)
    values = (rng.standard_normal((19, 128)) * rng.uniform(1e-3, 20, (19, 1))).astype(np.float32)
    values[0, :32] = 0.0  # an all-zero block (scale 0)
    values[1, :32] = 0.75  # a constant block
    values[2, 40] = 1e-30  # a denormal-sized value
    expected = gguf.quants.quantize(values, Q[name])
    ours = quantize(torch.from_numpy(values), name, chunk_rows=7).numpy()
    assert ours.shape == expected.shape and np.array_equal(ours, expected)


@pytest.mark.parametrize("name,bound", [("Q8_0", 0.01), ("Q5_0", 0.06), ("Q4_0", 0.12)])
def test_quantize_round_trip_error(name, bound):
    values = torch.randn(64, 256, generator=torch.Generator().manual_seed(3))
    packed = quantize(values, name)
    back = dequant.dequantize(packed, dequant.TYPE_IDS[name], values.shape)
    rel_rmse = ((back - values).pow(2).mean().sqrt() / values.pow(2).mean().sqrt()).item()
    assert 0 < rel_rmse < bound


def test_quantize_rejects_bad_shapes():
    with pytest.raises(InputError, match="multiple of 32"):
        quantize(torch.randn(4, 48), "Q8_0")
    with pytest.raises(UnsupportedFormatError, match="Q4_K"):
        quantize(torch.randn(4, 256), "Q4_K")


@pytest.mark.parametrize("name", sorted(SCALE_OFFSETS))
@pytest.mark.parametrize("offset", [1, 2, 4])
def test_dequantize_misaligned_bytes_matches_gguf(name, offset):
    """Packed bytes at an odd / 2- / 4-byte storage offset take the narrower gather paths, still bit-exact."""
    block, size = gguf.GGML_QUANT_SIZES[Q[name]]
    raw = random_blocks(name, 24, seed=offset)
    expected = gguf.quants.dequantize(raw, Q[name]).reshape(-1)
    storage = torch.zeros(raw.size + offset, dtype=torch.uint8)
    storage[offset:] = torch.from_numpy(raw.reshape(-1))
    ours = dequant.dequantize(storage[offset:], dequant.TYPE_IDS[name], (24 * block,), chunk_values=10 * block)
    assert np.array_equal(ours.numpy().view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("name", ["Q8_0", "Q4_K", "IQ4_NL"])
def test_dequantize_large_output_and_reused_out(name):
    """Outputs above 4 MiB come from the huge-page allocation path; `out=` and bf16 give the same values."""
    block, _ = gguf.GGML_QUANT_SIZES[Q[name]]
    n_blocks = (1 << 20) // block + 3
    raw = random_blocks(name, n_blocks, seed=5)
    expected = gguf.quants.dequantize(raw, Q[name]).reshape(-1)
    packed = torch.from_numpy(raw)
    ours = dequant.dequantize(packed, dequant.TYPE_IDS[name], (n_blocks * block,))
    assert ours.is_contiguous() and np.array_equal(ours.numpy().view(np.uint32), expected.view(np.uint32))
    out = torch.full((n_blocks * block,), float("nan"))
    assert dequant.dequantize(packed, dequant.TYPE_IDS[name], (n_blocks * block,), out=out).data_ptr() == out.data_ptr()
    assert torch.equal(out, ours)
    bf16 = dequant.dequantize(packed, dequant.TYPE_IDS[name], (n_blocks * block,), dtype=torch.bfloat16)
    assert torch.equal(bf16, ours.to(torch.bfloat16))


@pytest.mark.parametrize("name", sorted(SCALE_OFFSETS))
def test_bf16_output_in_pieces_is_the_exact_rounding_of_gguf(name):
    """bf16 outputs run their float stage in `AFFINE_PIECE_VALUES` pieces (here 2.5 of them, the last one
    partial, across two chunks): every bit, signed zeros included, is the bf16 rounding of gguf's float32."""
    block, _ = gguf.GGML_QUANT_SIZES[Q[name]]
    n_blocks = 5 * dequant.AFFINE_PIECE_VALUES // (2 * block)
    raw = random_blocks(name, n_blocks, seed=9)
    expected = torch.from_numpy(gguf.quants.dequantize(raw, Q[name]).reshape(-1)).to(torch.bfloat16)
    ours = dequant.dequantize(torch.from_numpy(raw), dequant.TYPE_IDS[name], (n_blocks * block,), torch.bfloat16,
                              chunk_values=2 * dequant.AFFINE_PIECE_VALUES)
    assert torch.equal(ours.view(torch.int16), expected.view(torch.int16))
