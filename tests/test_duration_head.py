"""LTX-2.5 duration head: parity with diffusers 0.42.1 `LTX2DurationHead` and with torch's MultiheadAttention
(the official module), full-size counts, loading, and the auto-duration frame rule."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError, InputError
from ltx2_core.model_patches import DurationHead, DurationHeadConfig, load_duration_head
from ltx2_core.pipeline.duration import predict_frames, seconds_to_frames

TINY = DurationHeadConfig(video_dim=12, audio_dim=8, hidden=16, queries=2, heads=4, mlp_hidden=10)


def _random(config, dtype, seed=0):
    head = DurationHead(config, dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3)
    return head


def _to_diffusers(state, dim):
    out = {}
    for k, v in state.items():
        if k == "attention_pooler.cross_attn.in_proj_weight" or k == "attention_pooler.cross_attn.in_proj_bias":
            kind = k.rsplit("_", 1)[1]
            for name, part in zip(("to_q", "to_k", "to_v"), v.chunk(3)):
                out[f"attention_pooler.{name}.{kind}"] = part
        else:
            out[k.replace("cross_attn.out_proj", "to_out")] = v
    return out


def _inputs(dtype, batch=2):
    g = torch.Generator().manual_seed(3)
    return (torch.randn(batch, 5, TINY.video_dim, generator=g, dtype=torch.float64).to(dtype),
            torch.randn(batch, 7, TINY.audio_dim, generator=g, dtype=torch.float64).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["fp64", "fp32"])
@pytest.mark.parametrize("streams", ["both", "video", "audio"])
def test_parity_diffusers(dtype, streams):
    from diffusers.pipelines.ltx2.duration_head import LTX2DurationHead

    ours = _random(TINY, dtype)
    ref = LTX2DurationHead(TINY.video_dim, TINY.audio_dim, TINY.hidden, TINY.queries, TINY.heads, TINY.mlp_hidden)
    ref = ref.to(dtype)
    ref.load_state_dict(_to_diffusers(ours.state_dict(), TINY.hidden), strict=True)
    video, audio = _inputs(dtype)
    video = video if streams != "audio" else None
    audio = audio if streams != "video" else None
    with torch.no_grad():
        got, want = ours(video, audio), ref(video, audio)
    assert got.shape == (2,) and got.dtype == dtype
    rel = ((got - want).abs() / want.abs()).max().item()
    assert rel <= (1e-12 if dtype == torch.float64 else 1e-6), rel


def test_parity_official_multihead_attention_layout():
    """The official AttentionPooler is torch.nn.MultiheadAttention(batch_first) under the same key names."""
    ours = _random(TINY, torch.float64)
    mha = torch.nn.MultiheadAttention(TINY.hidden, TINY.heads, batch_first=True, dtype=torch.float64)
    mha.load_state_dict({k[len("attention_pooler.cross_attn."):]: v for k, v in ours.state_dict().items()
                         if k.startswith("attention_pooler.cross_attn.")}, strict=True)
    tokens = torch.randn(2, 9, TINY.hidden, dtype=torch.float64)
    queries = ours.attention_pooler.query_tokens.unsqueeze(0).expand(2, -1, -1)
    with torch.no_grad():
        want, _ = mha(queries, tokens, tokens, need_weights=False)
        got = ours.attention_pooler(tokens)
    assert (got - want).abs().max().item() <= 1e-12


def test_full_size_counts():
    state = DurationHead(DurationHeadConfig(), device="meta").state_dict()
    assert len(state) == 15 and sum(v.numel() for v in state.values()) == 1_903_361


def test_load_official_layout_and_errors(tmp_path):
    head = _random(TINY, torch.float32)
    path = tmp_path / "ltx-2.5-duration-head.safetensors"
    save_file({"duration_head." + k: v.contiguous() for k, v in head.state_dict().items()}, str(path),
              {"config": json.dumps(TINY.to_metadata()), "model_version": "2.5.0"})
    loaded = load_duration_head(str(path))
    assert loaded.config == TINY
    video, audio = _inputs(torch.float32, batch=1)
    assert torch.equal(loaded(video, audio), head(video, audio))
    bare = tmp_path / "bare.safetensors"  # no metadata: sizes from shapes, 4 heads by default
    save_file({"duration_head." + k: v.contiguous() for k, v in head.state_dict().items()}, str(bare))
    assert load_duration_head(str(bare)).config == TINY
    other = tmp_path / "vae.safetensors"
    save_file({"vae.x": torch.zeros(1)}, str(other))
    with pytest.raises(CheckpointError, match="holds no duration head"):
        load_duration_head(str(other))
    with pytest.raises(InputError, match=r"video context must be \(B, L, 12\)"):
        loaded(torch.zeros(1, 3, 4), None)


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 23.976])
def test_seconds_to_frames_matches_diffusers(fps):
    from diffusers.pipelines.ltx2.duration_head import LTX2DurationHead

    class Fixed(LTX2DurationHead):
        def forward(self, video_tokens=None, audio_tokens=None):
            return torch.tensor([self.seconds])

    fixed = Fixed(4, 4, 4, 1, 1, 4)
    for seconds in (0.01, 0.5, 1.0, 1.3, 2.71, 5.0, 9.99, 19.7, 20.0, 33.0):
        fixed.seconds = seconds
        want = fixed.predict_num_frames(frame_rate=fps, temporal_compression_ratio=8)
        got = seconds_to_frames(seconds, fps)
        assert got == want and (got - 1) % 8 == 0, (seconds, got, want)
    assert seconds_to_frames(5.0, 24.0) == 113 and seconds_to_frames(50.0, 24.0) == 473


def test_auto_duration_errors_are_one_line():
    with pytest.raises(InputError, match="needs the LTX-2.5 duration head: pass --duration-head"):
        predict_frames(None, torch.zeros(1, 2, 4096), None, 24.0)
    with pytest.raises(InputError, match="hold no frame count of the form 8k\\+1"):
        seconds_to_frames(1.0, 24.0, 1.0, 1.02)  # [24, 24] frames; official would return 24 (off the grid)
    head = _random(TINY, torch.float32)
    with pytest.raises(InputError, match="one length per clip"):
        predict_frames(head, *_inputs(torch.float32, batch=2), fps=24.0)
    frames = predict_frames(head, *_inputs(torch.float32, batch=1), fps=24.0)
    assert (frames - 1) % 8 == 0 and 24 <= frames <= 481


def test_generate_frames_auto_uses_the_duration_head():
    from dataclasses import replace

    from ltx2_core.pipeline.demo import demo_components
    from ltx2_core.pipeline.generate import encode_prompts, generate
    from ltx2_core.pipeline.guidance import NO_GUIDANCE

    parts = demo_components(seed=1)
    config = parts.transformer.config
    head = _random(DurationHeadConfig(video_dim=config.dim, audio_dim=config.audio_dim, hidden=16, heads=4,
                                      mlp_hidden=8), torch.float32)
    small = dict(width=64, height=64, seed=4, guidance=NO_GUIDANCE, sigmas=[1.0, 0.0])
    with pytest.raises(InputError, match="needs the LTX-2.5 duration head"):
        generate(parts, "a fox", frames="auto", **small)
    context = encode_prompts(parts.text_encoder, ["a fox"])[0]
    want = predict_frames(head, context.video, context.audio, 24.0)
    clip = generate(replace(parts, duration_head=head), "a fox", frames="auto", **small)
    assert clip.video.shape[1] == want and (want - 1) % 8 == 0
