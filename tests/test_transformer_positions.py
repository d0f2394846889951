"""Token positions and (un)patchify equal ltx-core's latent tools and patchifiers."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.transformer import (audio_positions, keyframe_positions, patchify_audio, patchify_video,
                                   reference_positions, unpatchify_audio, unpatchify_video, video_positions)
from ltx2_core.transformer.rope import frequency_grid, rope_from_positions


@pytest.mark.parametrize("fps", [24.0, 25.0, 23.976])
def test_video_positions_equal_latent_tools(fps):
    from ltx_core.components.patchifiers import VideoLatentPatchifier
    from ltx_core.tools import VideoLatentTools
    from ltx_core.types import VideoLatentShape

    shape = VideoLatentShape(batch=2, channels=4, frames=3, height=2, width=5)
    tools = VideoLatentTools(VideoLatentPatchifier(1), shape, fps=fps)
    expected = tools.create_initial_state("cpu", torch.float32).positions
    assert torch.equal(video_positions(2, 3, 2, 5, fps), expected)


def test_video_position_values():
    pos = video_positions(1, 3, 2, 2, fps=24.0)  # tokens ordered (frame, row, column)
    assert pos.shape == (1, 3, 12, 2)
    assert torch.allclose(pos[0, 0, ::4] * 24, torch.tensor([[0.0, 1.0], [1.0, 9.0], [9.0, 17.0]]))  # pixel frames
    assert torch.equal(pos[0, 1, :4], torch.tensor([[0.0, 32.0]] * 2 + [[32.0, 64.0]] * 2))  # rows in pixels
    assert torch.equal(pos[0, 2, :2], torch.tensor([[0.0, 32.0], [32.0, 64.0]]))  # columns in pixels


@pytest.mark.parametrize("frame_idx", [0, 9, 16])
def test_keyframe_positions_equal_keyframe_condition(frame_idx):
    from ltx_core.components.patchifiers import VideoLatentPatchifier
    from ltx_core.conditioning.types.keyframe_cond import VideoConditionByKeyframeIndex
    from ltx_core.tools import VideoLatentTools
    from ltx_core.types import VideoLatentShape

    tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(1, 4, 2, 2, 3), fps=24.0)
    state = tools.create_initial_state("cpu", torch.float32)
    keyframe = torch.randn(1, 4, 1, 2, 3)
    state = VideoConditionByKeyframeIndex(keyframe, frame_idx, 1.0).apply_to(state, tools)
    ours = keyframe_positions(1, 1, 2, 3, 24.0, frame_idx, narrow_single_frame=False)  # ltx-core 1.0.0 semantics
    assert torch.equal(state.positions[:, :, -6:], ours)
    narrowed = keyframe_positions(1, 1, 2, 3, 24.0, frame_idx)  # current official semantics
    assert torch.equal(narrowed[0, 0, 0] * 24, torch.tensor([frame_idx, frame_idx + 1.0]))
    assert torch.equal(narrowed[:, 1:], ours[:, 1:])


@pytest.mark.parametrize("downscale", [1, 2])
def test_reference_positions_equal_reference_condition(downscale):
    from ltx_core.components.patchifiers import VideoLatentPatchifier
    from ltx_core.conditioning.types.reference_video_cond import VideoConditionByReferenceLatent
    from ltx_core.tools import VideoLatentTools
    from ltx_core.types import VideoLatentShape

    tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(1, 4, 3, 4, 6), fps=24.0)
    state = tools.create_initial_state("cpu", torch.float32)
    reference = torch.randn(1, 4, 3, 4 // downscale, 6 // downscale)
    state = VideoConditionByReferenceLatent(reference, downscale_factor=downscale).apply_to(state, tools)
    ours = reference_positions(1, 3, 4 // downscale, 6 // downscale, 24.0, downscale_factor=downscale)
    assert torch.equal(state.positions[:, :, 72:], ours)


def test_reference_positions_temporal_subsampling():
    pos = reference_positions(1, 3, 1, 1, 24.0, temporal_scale=2)  # every 2nd frame kept: 12 fps spacing
    expected = torch.tensor([[0.0, 1.0], [1.0, 9.0], [9.0, 17.0]]) / 12 - 1 / 24
    assert torch.allclose(pos[0, 0], expected.clamp(min=0))


@pytest.mark.parametrize("shift", [0, 3])
def test_audio_positions_equal_audio_patchifier(shift):
    from ltx_core.components.patchifiers import AudioPatchifier
    from ltx_core.types import AudioLatentShape

    expected = AudioPatchifier(1, shift=shift).get_patch_grid_bounds(AudioLatentShape(2, 8, 7, 16))
    assert torch.equal(audio_positions(2, 7, shift=shift), expected)
    first = audio_positions(1, 3)[0, 0]
    assert torch.allclose(first, torch.tensor([[0.0, 0.01], [0.01, 0.05], [0.05, 0.09]]))


def test_patchify_round_trips_and_matches_ltx_core():
    from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
    from ltx_core.types import AudioLatentShape, VideoLatentShape

    video = torch.randn(2, 4, 3, 2, 5)
    tokens = patchify_video(video)
    assert torch.equal(tokens, VideoLatentPatchifier(1).patchify(video))
    assert torch.equal(unpatchify_video(tokens, 3, 2, 5), video)
    assert torch.equal(VideoLatentPatchifier(1).unpatchify(tokens, VideoLatentShape(2, 4, 3, 2, 5)), video)
    audio = torch.randn(2, 8, 7, 16)
    tokens = patchify_audio(audio)
    assert torch.equal(tokens, AudioPatchifier(1).patchify(audio))
    assert torch.equal(unpatchify_audio(tokens, 8), audio)
    assert torch.equal(AudioPatchifier(1).unpatchify(tokens, AudioLatentShape(2, 8, 7, 16)), audio)
    with pytest.raises(InputError, match="drop appended conditioning tokens"):
        unpatchify_video(torch.randn(1, 31, 4), 3, 2, 5)


@pytest.mark.parametrize("double", [True, False])
def test_full_size_rope_equals_ltx_core(double):
    from ltx_core.model.transformer.rope import (LTXRopeType, generate_freq_grid_np, generate_freq_grid_pytorch,
                                                 precompute_freqs_cis)

    positions = video_positions(1, 2, 2, 3, fps=24.0)
    grid = generate_freq_grid_np if double else generate_freq_grid_pytorch
    assert torch.equal(frequency_grid(10000.0, 3, 4096, double), grid(10000.0, 3, 4096))
    for rope_type in ("split", "interleaved"):
        cos, sin = precompute_freqs_cis(positions, dim=4096, out_dtype=torch.float32, max_pos=[20, 2048, 2048],
                                        use_middle_indices_grid=True, num_attention_heads=32,
                                        rope_type=LTXRopeType(rope_type), freq_grid_generator=grid)
        rope = rope_from_positions(positions, max_pos=(20, 2048, 2048), width=4096, heads=32, rope_type=rope_type,
                                   double_precision=double)
        if rope_type == "split":
            cos, sin = cos.transpose(1, 2), sin.transpose(1, 2)  # theirs (B, H, T, D/2), ours (B, T, H, D/2)
        assert torch.equal(rope.cos, cos) and torch.equal(rope.sin, sin)
    assert rope_from_positions(positions, max_pos=(20, 2048, 2048), width=4096, heads=32,
                               rope_type="split").cos[0, 0, 0, :2].tolist() == [1.0, 1.0]  # 2 identity slots in front
