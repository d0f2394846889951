"""Regional compile (ltx2_core.compile): one graph per block shape, no graph breaks, no recompiles between
steps, for float, GGUF-packed and fp8-scaled weights. Uses a graph-counting dynamo backend that runs the
captured graphs eagerly (inductor would take minutes on the 2 CI cores; the graphs it would get are these)."""

import contextlib

import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from ltx2_core.checkpoint import load_strict
from ltx2_core.compile import CompiledTransformer, CompileOptions
from ltx2_core.errors import InputError
from ltx2_core.gguf.ops import QuantOps
from ltx2_core.gguf.quantize import quantize
from ltx2_core.gguf.tensor import QuantizedTensor, is_quantized
from ltx2_core.pipeline.conditioning import initial_audio_state, initial_video_state
from ltx2_core.pipeline.denoise import TextContext, denoise
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams
from ltx2_core.pipeline.latents import latent_shape, make_generator
from ltx2_core.pipeline.schedules import ltx2_sigmas
from ltx2_core.transformer import LTX2Transformer, TransformerConfig

FPS = 24.0
GUIDANCE = Guidance(GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
                    GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0))


class GraphCounter:
    """A dynamo backend that records every graph it is given and runs it as captured."""

    def __init__(self):
        self.graphs = []

    def __call__(self, gm, example_inputs):
        self.graphs.append(gm)
        return gm.forward


def _float_state():
    torch.manual_seed(0)
    model = LTX2Transformer(TransformerConfig.tiny("2.0")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    return model.state_dict()


def _packed(state, kind):
    out = {}
    for key, value in state.items():
        if key.startswith("transformer_blocks.") and key.endswith(".weight") and value.ndim == 2 \
                and value.shape[1] % 32 == 0:
            if kind == "gguf":
                value = QuantizedTensor(quantize(value, "Q8_0").reshape(-1), "Q8_0", value.shape, dtype=torch.float32)
            else:
                scale = (value.abs().max() / torch.finfo(torch.float8_e4m3fn).max).float()
                value = QuantizedTensor((value / scale).to(torch.float8_e4m3fn), "scaled", value.shape,
                                        dtype=torch.float32, scale=scale.reshape(()))
        out[key] = value
    return out


def _model(kind):
    state = _float_state()
    config = TransformerConfig.tiny("2.0")
    if kind == "float":
        return load_strict(LTX2Transformer(config, device="meta"), state, "tiny")
    model = load_strict(LTX2Transformer(config, operations=QuantOps, device="meta"), _packed(state, kind), "tiny")
    assert sum(is_quantized(t) for t in model.state_dict(keep_vars=True).values()) >= 10
    return model


@pytest.fixture(scope="module")
def inputs():
    shape = latent_shape(64, 64, 9, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    gen = torch.Generator().manual_seed(1)
    pos = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    neg = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    return shape, pos, neg


def _denoise(model, inputs, steps):
    shape, pos, neg = inputs
    return denoise(model, shape, initial_video_state(shape, FPS), initial_audio_state(shape), ltx2_sigmas(steps),
                   pos, neg, GUIDANCE, generator=make_generator(7))


@pytest.mark.parametrize("kind,inference", [("float", False), ("gguf", False), ("fp8", False), ("gguf", True)])
def test_blocks_compile_once_without_graph_breaks_and_match_eager(kind, inference, inputs):
    """inference: under torch.inference_mode, as ComfyUI runs every node."""
    with torch.inference_mode() if inference else contextlib.nullcontext():
        _check_compiled(_model(kind), inputs)


def _check_compiled(model, inputs):
    torch._dynamo.reset()
    counters.clear()
    backend = GraphCounter()
    compiled = CompiledTransformer(model, CompileOptions(backend=backend, fullgraph=True))
    first = _denoise(compiled, inputs, 2)
    graphs_after_warmup = len(backend.graphs)
    # CFG + STG + modality passes run batched in one call: block 0 runs unperturbed, block 1 (the STG block)
    # with a per-item self-attention mask, so exactly two graphs (a deeper model reuses block 0's for the rest).
    assert graphs_after_warmup == 2
    again = _denoise(compiled, inputs, 4)  # more steps at the same size: nothing new to compile
    assert len(backend.graphs) == graphs_after_warmup
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] == graphs_after_warmup
    reference = _denoise(model, inputs, 4)
    assert torch.allclose(again.video, reference.video, atol=1e-5, rtol=1e-5)
    assert torch.allclose(again.audio, reference.audio, atol=1e-5, rtol=1e-5)
    assert first.video.shape == reference.video.shape


def test_compile_leaves_the_model_untouched_and_checks_options():
    model = _model("float")
    keys = list(model.state_dict())
    compiled = CompiledTransformer(model, CompileOptions(backend="eager"))
    assert list(model.state_dict()) == keys and compiled.config is model.config
    assert len(compiled.blocks) == model.config.num_layers
    assert all(type(block) is not type(original) for block, original in zip(compiled.blocks, model.transformer_blocks))
    with pytest.raises(InputError, match="Unknown compile backend 'tensorrt'"):
        CompileOptions(backend="tensorrt")
    with pytest.raises(InputError, match="Unknown compile mode"):
        CompileOptions(mode="fast")
    with pytest.raises(InputError, match="transformer_blocks"):
        CompiledTransformer(torch.nn.Linear(2, 2))
