"""The generate() API on the tiny demo components: image / keyframe / audio conditioning, audio only,
stage-2 LoRA merged and restored, batches whose items equal their single runs, argument errors."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components
from ltx2_core.pipeline.generate import generate
from ltx2_core.pipeline.guidance import LTX23_DEV_GUIDANCE
from ltx2_core.pipeline.lora import LoraLayer
from ltx2_core.pipeline.two_stage import AudioInput, VideoInput
from ltx2_core.pipeline.video_io import resize_cover

SMALL = dict(width=64, height=64, frames=9, steps=2, seed=4, guidance=DEMO_GUIDANCE)


@pytest.fixture(scope="module")
def parts():
    return demo_components(seed=1, encoders=True)


def test_image_and_keyframe_conditioning_pin_their_latent_frames(parts):
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(3, 1, 80, 100, generator=gen) * 2 - 1  # resized (cover + crop) to 64x64
    first = generate(parts, "a fox", images=[VideoInput(image, crf=0)], **SMALL)
    resized = resize_cover(image, 64, 64)  # scale 0.8 -> 64x80, centre crop of the width
    expected = torch.nn.functional.interpolate(image.permute(1, 0, 2, 3), size=(64, 80), mode="bilinear")
    torch.testing.assert_close(resized, expected.permute(1, 0, 2, 3)[..., 8:72])
    encoded = parts.video_vae.encode(resized[None])
    torch.testing.assert_close(first.video_latent[:, :, :1], encoded)
    free = generate(parts, "a fox", **SMALL)
    assert not torch.allclose(free.video_latent[:, :, :1], encoded)
    keyed = generate(parts, "a fox", images=[VideoInput(image, frame_index=8, strength=1.0)], **SMALL)
    assert keyed.video.shape == (3, 9, 64, 64) and not torch.allclose(keyed.video, free.video)


def test_audio_to_video_returns_the_given_audio_and_audio_only(parts):
    wave = torch.sin(torch.arange(16000) / 16000 * 2 * torch.pi * 440).expand(2, -1) * 0.5
    clip = generate(parts, "a fox", audio=AudioInput(wave, 16000), **SMALL)
    assert clip.sample_rate == 16000 and torch.equal(clip.audio, wave[:, : round(9 / 24 * 16000)])
    sound = generate(parts, "a fox", audio_only=True, **SMALL)
    assert sound.video is None and sound.audio.shape == (2, round(9 / 24 * sound.sample_rate))
    with pytest.raises(InputError, match="Audio-only"):
        generate(parts, "a fox", audio_only=True, images=[VideoInput(torch.zeros(3, 1, 64, 64))], **SMALL)


def test_stage2_lora_applies_to_stage_two_only_and_leaves_weights_untouched(parts):
    weight = parts.transformer.transformer_blocks[0].attn1.to_q.weight
    before = weight.detach().clone()
    lora = {"transformer_blocks.0.attn1.to_q": LoraLayer(torch.randn(2, weight.shape[1]),
                                                         torch.randn(weight.shape[0], 2), 1.0)}
    hooked = []

    def watch(step, total, v, a):
        hooked.append(bool(parts.transformer.transformer_blocks[0].attn1.to_q._forward_hooks))

    kwargs = dict(SMALL, width=128)
    plain = generate(parts, "a fox", two_stage=True, **kwargs)
    parts.stage2_lora = lora
    try:
        with_lora = generate(parts, "a fox", two_stage=True, callback=watch, **kwargs)
    finally:
        parts.stage2_lora = None
    assert hooked == [False, False, True, True, True]  # 2 stage-1 steps without, 3 stage-2 steps with
    assert torch.equal(weight, before) and not parts.transformer.transformer_blocks[0].attn1.to_q._forward_hooks
    assert not torch.allclose(with_lora.video, plain.video)


def test_lora_hooks_equal_merged_weights():
    from ltx2_core.pipeline.lora import lora_hooks, merge_loras

    layer = torch.nn.Sequential(torch.nn.Linear(6, 4))
    lora = {"0": LoraLayer(torch.randn(3, 6), torch.randn(4, 3), 0.5)}
    x = torch.randn(2, 6)
    with lora_hooks(layer, [(lora, 0.7)]):
        hooked = layer(x)
    assert not layer[0]._forward_hooks
    merge_loras(layer, [(lora, 0.7)])
    torch.testing.assert_close(hooked, layer(x))


def test_generate_argument_errors(parts):
    with pytest.raises(InputError, match="multiple of 64"):
        generate(parts, "a fox", two_stage=True, **dict(SMALL, width=96))
    with pytest.raises(InputError, match=r"STG block\(s\) 28 do not exist in this 2-block model"):
        generate(parts, "a fox", **dict(SMALL, guidance=LTX23_DEV_GUIDANCE))
    with pytest.raises(InputError, match="8k\\+1"):
        VideoInput(torch.zeros(3, 4, 64, 64))


def test_interrupt_during_stage_two_removes_the_lora_hooks(parts):
    to_q = parts.transformer.transformer_blocks[0].attn1.to_q
    parts.stage2_lora = {"transformer_blocks.0.attn1.to_q": LoraLayer(torch.zeros(2, to_q.in_features),
                                                                      torch.zeros(to_q.out_features, 2), 1.0)}

    class Interrupted(Exception):
        pass

    def stop_in_stage_two(step, total, v, a):
        if step == 3:
            raise Interrupted()

    try:
        with pytest.raises(Interrupted):
            generate(parts, "a fox", two_stage=True, callback=stop_in_stage_two, **dict(SMALL, width=128))
    finally:
        parts.stage2_lora = None
    assert not to_q._forward_hooks


def _assert_same_clip(batched, single, exact=False):
    tol = dict(rtol=0.0, atol=0.0) if exact else dict(rtol=1e-5, atol=3e-5)  # measured <= 7e-6 (fp32)
    torch.testing.assert_close(batched.video_latent, single.video_latent, **tol)
    torch.testing.assert_close(batched.audio_latent, single.audio_latent, **tol)
    torch.testing.assert_close(batched.video, single.video, **tol)
    torch.testing.assert_close(batched.audio, single.audio, **tol)


@pytest.mark.parametrize("two_stage", [False, True])
def test_batch_items_equal_their_single_runs(parts, two_stage):
    image = torch.rand(3, 1, 64, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert DEMO_GUIDANCE.video.rescale != 0.0  # rescale's std is per item: it must not couple the batch
    kwargs = dict(SMALL, width=128, two_stage=two_stage,
                  images=[VideoInput(image, crf=0), VideoInput(image, frame_index=8, strength=0.7, crf=0)])
    batches = []
    clips = generate(parts, "a fox", batch_size=2, callback=lambda s, t, v, a: batches.append(v.shape[0]), **kwargs)
    assert isinstance(clips, list) and len(clips) == 2 and set(batches) == {2}  # one batched run
    for index, clip in enumerate(clips):
        _assert_same_clip(clip, generate(parts, "a fox", **dict(kwargs, seed=SMALL["seed"] + index)))
    assert not torch.allclose(clips[0].video_latent, clips[1].video_latent)
    assert clips[0].video.shape == (3, 9, 64, 128)


def test_batch_with_explicit_seeds_audio_input_and_res2s_item_by_item(parts):
    wave = torch.sin(torch.arange(16000) / 16000 * 2 * torch.pi * 440).expand(2, -1) * 0.5
    kwargs = dict(SMALL, audio=AudioInput(wave, 16000))
    clips = generate(parts, "a fox", seeds=[7, 3], **kwargs)
    for seed, clip in zip((7, 3), clips):
        _assert_same_clip(clip, generate(parts, "a fox", **dict(kwargs, seed=seed)))
    batches = []
    res2s = dict(SMALL, sampler="res_2s")
    clips = generate(parts, "a fox", batch_size=2, callback=lambda s, t, v, a: batches.append(v.shape[0]), **res2s)
    assert set(batches) == {1}  # res_2s draws its SDE noise for the whole batch: item by item instead
    for index, clip in enumerate(clips):
        _assert_same_clip(clip, generate(parts, "a fox", **dict(res2s, seed=SMALL["seed"] + index)), exact=True)


def test_batch_argument_errors(parts):
    with pytest.raises(InputError, match="batch_size 0 is invalid"):
        generate(parts, "a fox", batch_size=0, **SMALL)
    with pytest.raises(InputError, match="batch_size 3 does not match the 2 seeds"):
        generate(parts, "a fox", batch_size=3, seeds=[1, 2], **SMALL)
    with pytest.raises(InputError, match="seeds is empty"):
        generate(parts, "a fox", seeds=[], **SMALL)
