"""The pipeline marks the target's first latent frame for the LTX-2.5 keyframe marker (official
`_first_frame_keyframes_mask`), also in plain text-to-video; appended keyframe tokens stay unmarked."""

import torch

from ltx2_core.pipeline.conditioning import Keyframe, apply_conditionings, initial_video_state
from ltx2_core.pipeline.denoise import _stream_input
from ltx2_core.pipeline.latents import latent_shape


def test_first_latent_frame_marked_and_appended_tokens_not():
    shape = latent_shape(96, 64, 17, 24.0, batch=2, video_channels=8)  # 3 latent frames of 2 x 3 tokens
    state = initial_video_state(shape, 24.0)
    mask = _stream_input(state, state.latent, 0.5, torch.zeros(2, 4, 8)).keyframes_mask
    assert mask.shape == (2, 18) and mask[:, :6].eq(1).all() and mask[:, 6:].eq(0).all()
    image = torch.randn(2, 8, 1, shape.height, shape.width)
    conditioned = apply_conditionings(state, [Keyframe(image, 8)], shape, 24.0)
    mask = _stream_input(conditioned, conditioned.latent, 0.5, torch.zeros(2, 4, 8)).keyframes_mask
    assert mask.shape == (2, 24) and mask.sum().item() == 2 * 6 and mask[:, 18:].eq(0).all()
