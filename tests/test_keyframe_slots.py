"""Generated keyframe slots (LTX-2.5): placement, token layout (positions, masks, marker), the unchanged target
noise, the end-to-end run on the tiny 2.5 and the refusals (official semantics: ltx-core HEAD
`conditioning/types/keyframe_slots.py`, ltx-pipelines `utils/helpers.py`, Lightricks/LTX-2 @ 400fd310)."""

import os
import subprocess
import sys

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.pipeline.conditioning import Keyframe, apply_conditionings, initial_video_state
from ltx2_core.pipeline.demo import demo_components
from ltx2_core.pipeline.demo25 import demo25_components
from ltx2_core.pipeline.denoise import _stream_input
from ltx2_core.pipeline.generate import generate
from ltx2_core.pipeline.keyframe_slots import (
    GeneratedKeyframes,
    evenly_spaced_keyframes,
    keyframe_slot_items,
    resolve_keyframes,
)
from ltx2_core.pipeline.latents import latent_shape
from ltx2_core.transformer.positions import video_positions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_evenly_spaced_positions_follow_the_official_formula():
    # round(linspace(0, frames - 1, n + 2))[1:-1], computed by hand
    assert evenly_spaced_keyframes(1, 121) == (60,)
    assert evenly_spaced_keyframes(5, 241) == (40, 80, 120, 160, 200)
    assert evenly_spaced_keyframes(2, 17) == (5, 11)
    assert evenly_spaced_keyframes(0, 9) == ()
    assert resolve_keyframes([16, 3, 3], 17) == (3, 16)


def test_slot_tokens_positions_masks_and_marker():
    fps = 24.0
    shape = latent_shape(96, 64, 17, fps, batch=2, video_channels=8)  # 3 latent frames of 2 x 3 tokens
    state = apply_conditionings(initial_video_state(shape, fps), [GeneratedKeyframes((5, 11))], shape, fps)
    per_frame, target = 6, 18
    assert state.tokens == target + 2 * per_frame and state.target_tokens == target
    assert state.mask[:, target:].eq(1).all()  # fully generated
    assert state.latent[:, target:].eq(0).all() and state.attention_mask is None
    slots = state.positions[:, :, target:]  # (B, 3, 12, 2)
    for slot, k in enumerate((5, 11)):
        time = slots[:, 0, slot * per_frame : (slot + 1) * per_frame]
        assert torch.equal(time, torch.tensor([k / fps, (k + 1) / fps]).expand_as(time))
    grid = video_positions(2, 1, shape.height, shape.width, fps)[:, 1:]  # the target's spatial grid
    assert torch.equal(slots[:, 1:, :per_frame], grid) and torch.equal(slots[:, 1:, per_frame:], grid)
    marker = _stream_input(state, state.latent, 0.5, torch.zeros(2, 4, 8)).keyframes_mask
    assert marker[:, :per_frame].eq(1).all() and marker[:, per_frame:target].eq(0).all()
    assert marker[:, target:].eq(1).all()
    # a given keyframe appended after the slots stays unmarked
    image = torch.randn(2, 8, 1, shape.height, shape.width)
    more = apply_conditionings(state, [Keyframe(image, 8)], shape, fps)
    marker = _stream_input(more, more.latent, 0.5, torch.zeros(2, 4, 8)).keyframes_mask
    assert marker[:, target + 2 * per_frame:].eq(0).all() and marker.sum().item() == 2 * 3 * per_frame


def test_seeded_slots_take_the_initial_latents():
    shape = latent_shape(96, 64, 17, 24.0, video_channels=8)
    initial = torch.randn(1, 8, 2, shape.height, shape.width)
    state = apply_conditionings(initial_video_state(shape, 24.0), [GeneratedKeyframes((4, 12), initial)], shape,
                                24.0)
    assert torch.equal(state.latent[0, 18:24], initial[0, :, 0].flatten(1).T)
    assert torch.equal(state.latent[0, 24:], initial[0, :, 1].flatten(1).T)


def _first_video_inputs(parts):
    """Record the video input of every transformer call."""
    calls = []
    parts.transformer.register_forward_pre_hook(lambda module, args: calls.append(args[0]))
    return calls


def test_tiny_ltx25_generates_with_slots_and_keeps_the_target_noise():
    runs = {}
    for request in (0, 2):
        parts = demo25_components()
        calls = _first_video_inputs(parts)
        clip = generate(parts, "a fox", width=64, height=64, frames=17, steps=2, seed=3, generated_keyframes=request,
                        guidance=None)
        runs[request] = clip, calls
    (plain, plain_calls), (slotted, slotted_calls) = runs[0], runs[2]
    assert plain.video.shape == slotted.video.shape  # the slots are dropped: same clip length
    target = plain_calls[0].latent.shape[1]
    assert slotted_calls[0].latent.shape[1] == target + 2 * 2 * 2  # two slots of 2 x 2 latents
    # sigma 1 at step 0: the model input is the noise itself; the target's part is the same draw
    assert torch.equal(slotted_calls[0].latent[:, :target], plain_calls[0].latent)
    assert slotted_calls[0].keyframes_mask[:, target:].eq(1).all()
    assert not torch.equal(plain.video, slotted.video)  # the slots take part in attention


def test_refusals_one_line_each():
    shape = latent_shape(64, 64, 17, 24.0, video_channels=16)
    with pytest.raises(InputError, match="need an LTX-2.5 transformer"):
        keyframe_slot_items(1, shape, demo_components().transformer.config)
    with pytest.raises(InputError, match="at least 5 frames"):
        evenly_spaced_keyframes(3, 4)
    with pytest.raises(InputError, match="must lie in 0..16"):
        resolve_keyframes([3, 17], 17)
    with pytest.raises(InputError, match="strictly increasing"):
        GeneratedKeyframes((8, 4)).apply(initial_video_state(shape, 24.0), shape, 24.0)
    with pytest.raises(InputError, match="negative"):
        evenly_spaced_keyframes(-1, 17)
    assert keyframe_slot_items(0, shape, None) == []


def test_cli_refuses_keyframes_with_long_and_on_too_short_clips(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = lambda *args: subprocess.run([sys.executable, "-m", "ltx2_core", "generate", "--prompt", "x",  # noqa
                                        "--out", str(tmp_path / "o.mp4"), "--text-encoder", "g.safetensors", *args], cwd=tmp_path, env=env,
                                       capture_output=True, text=True, timeout=120)
    long = run("--checkpoint", "missing.safetensors", "--frames", "241", "--long", "extend",
               "--num-generated-keyframes", "2")
    assert long.returncode == 2 and "Traceback" not in long.stderr
    assert "--num-generated-keyframes cannot be combined with --long" in long.stderr
    short = run("--checkpoint", "missing.safetensors", "--frames", "9", "--num-generated-keyframes", "9")
    assert short.returncode == 2 and "at least 11 frames" in short.stderr
