"""Sequence parallelism (Ulysses) and FSDP2 sharding on gloo ranks equal the single-process run."""

import dataclasses

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.parallel import selfcheck
from ltx2_core.parallel.sequence import SequenceParallel, shard_video
from ltx2_core.transformer.inputs import ModalityInput

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
# LTX-2.3 (gated attention, prompt AdaLN) with 3 video and 3 audio heads: no head count divides 2.
GATED = selfcheck.Case(version="2.3", config_changes=(("heads", 3), ("cross_attention_dim", 48), ("audio_heads", 3),
                                                     ("audio_cross_attention_dim", 24)))


def _check(ranks, ref, world, modes=selfcheck.MODES):
    assert len(ranks) == world
    names = {f"{m}/{d}/{s}" for m in modes for d in TOLERANCE for s in ("video", "audio")}
    for rank, tensors in ranks.items():
        stats = {name: tensors.pop(name).tolist() for name in list(tensors) if name.startswith("stats/")}
        assert set(tensors) == names
        for name, (weight_fraction, sent_bytes) in stats.items():
            mode = name.split("/")[1]
            # FSDP keeps about 1/world of the weights on each rank; SP moves bytes, fsdp alone none of ours.
            assert weight_fraction <= 1 / world + 0.05 if "fsdp" in mode else weight_fraction == 1.0, (name, stats)
            assert (sent_bytes > 0) == ("sp" in mode), (name, stats)
        for name, value in tensors.items():
            mode, dtype, stream = name.split("/")
            expected = ref[f"{dtype}/{stream}"]
            assert value.shape == expected.shape and value.dtype == expected.dtype
            error = selfcheck.max_rel(value, expected)
            assert error <= TOLERANCE[dtype], (rank, name, error)
            assert torch.equal(value, ranks[0][name]), (rank, name)  # every rank holds the same result


@pytest.mark.parametrize("world", [2, 3])
def test_guided_denoise_on_ranks_equals_one_process(world, tmp_path):
    ref = selfcheck.reference()
    assert ref["float32/video"].shape[1] == 25  # 20 generated + 5 keyframe tokens: divisible by neither 2 nor 3
    _check(selfcheck.run_ranks(world, str(tmp_path)), ref, world)


def test_gated_forward_with_self_mask_and_uneven_heads_on_two_ranks(tmp_path):
    ref = selfcheck.reference(GATED, job="forward")
    _check(selfcheck.run_ranks(2, str(tmp_path), GATED, job="forward"), ref, 2)


def test_ltx25_keyframe_marker_denoise_on_three_ranks(tmp_path):
    """LTX-2.5 (video FFN without bias, the frame-0 keyframe marker on the first latent frame's tokens): the
    marker mask is sharded with the tokens; padding tokens are unmarked."""
    case = selfcheck.Case(version="2.5")
    ref = selfcheck.reference(case)
    _check(selfcheck.run_ranks(3, str(tmp_path), case, modes=("sp",)), ref, 3, modes=("sp",))


def test_shard_video_pads_with_repeated_positions_and_timesteps():
    latent = torch.randn(1, 5, 4)
    timesteps = torch.arange(5.0).view(1, 5)
    positions = torch.arange(30.0).view(1, 3, 5, 2)
    m = ModalityInput(latent=latent, sigma=torch.ones(1), timesteps=timesteps, positions=positions,
                      context=torch.zeros(1, 2, 3), attention_mask=torch.ones(1, 5, 5),
                      keyframes_mask=torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0]]))
    last = shard_video(m, 2, 3)  # padded to 6 tokens, rank 2 holds tokens 4 and 5 (the padding)
    assert last.latent.shape == (1, 2, 4) and torch.equal(last.latent[0, 0], latent[0, 4])
    assert torch.equal(last.latent[0, 1], torch.zeros(4))
    assert last.timesteps.tolist() == [[4.0, 4.0]] and last.keyframes_mask.tolist() == [[1.0, 0.0]]
    assert torch.equal(last.positions[:, :, 1], positions[:, :, 4])
    assert last.attention_mask.shape == (1, 5, 5)  # stays whole: attention sees every query after the all-to-all
    first = shard_video(m, 0, 3)
    assert torch.equal(first.latent, latent[:, :2]) and first.timesteps.tolist() == [[0.0, 1.0]]
    marked = shard_video(dataclasses.replace(m, keyframes_mask=torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0]])), 2, 3)
    assert marked.keyframes_mask.tolist() == [[1.0, 0.0]]  # token 4 marked, the padding token not


def test_step_cache_is_refused_with_one_line():
    wrapper = SequenceParallel.__new__(SequenceParallel)
    with pytest.raises(InputError, match="step cache is not supported with sequence parallelism"):
        SequenceParallel.forward(wrapper, None, None, step_cache=object())
