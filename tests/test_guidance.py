"""The guidance combination equals ltx-core's MultiModalGuider per stream."""

import pytest
import torch
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams

from ltx2_core.errors import InputError
from ltx2_core.pipeline.guidance import (
    LTX2_DEV_GUIDANCE,
    LTX23_DEV_GUIDANCE,
    NO_GUIDANCE,
    Guidance,
    GuidanceParams,
    guide,
    plan_passes,

)


def _reference(params: GuidanceParams) -> MultiModalGuider:
    return MultiModalGuider(MultiModalGuiderParams(
        cfg_scale=params.cfg, stg_scale=params.stg, stg_blocks=list(params.stg_blocks),
        rescale_scale=params.rescale, modality_scale=params.modality, skip_step=params.skip_step,
    ))


def test_defaults_are_the_reference_dev_parameters():
    assert LTX2_DEV_GUIDANCE.video == GuidanceParams(3.0, 1.0, (29,), 0.7, 3.0)
    assert LTX2_DEV_GUIDANCE.audio == GuidanceParams(7.0, 1.0, (29,), 0.7, 3.0)
    assert LTX23_DEV_GUIDANCE.video.stg_blocks == (28,) and LTX23_DEV_GUIDANCE.audio.cfg == 7.0
    assert plan_passes(LTX2_DEV_GUIDANCE) == ("cond", "uncond", "perturbed", "isolated")
    assert plan_passes(NO_GUIDANCE) == ("cond",)


@pytest.mark.parametrize("guidance", [
    LTX2_DEV_GUIDANCE,
    Guidance(GuidanceParams(cfg=4.0), GuidanceParams(stg=2.0, stg_blocks=(1,))),
    Guidance(GuidanceParams(modality=2.5, rescale=0.3), GuidanceParams(cfg=1.0)),
])
def test_guide_matches_multimodal_guider(guidance):
    gen = torch.Generator().manual_seed(0)
    preds = {name: (torch.randn(2, 12, 8, generator=gen), torch.randn(2, 5, 16, generator=gen))
             for name in ("cond", "uncond", "perturbed", "isolated")}
    passes = plan_passes(guidance)
    given = {name: (preds[name] if name in passes else None) for name in ("uncond", "perturbed", "isolated")}
    video, audio = guide(preds["cond"], guidance, **given)
    for index, (ours, params) in enumerate(((video, guidance.video), (audio, guidance.audio))):
        for item in range(2):  # the reference runs one item at a time: rescale's std is per item
            extra = [preds[n][index][item:item + 1] if n in passes else 0.0
                     for n in ("uncond", "perturbed", "isolated")]
            reference = _reference(params).calculate(preds["cond"][index][item:item + 1], *extra)
            torch.testing.assert_close(ours[item:item + 1], reference, rtol=1e-6, atol=1e-6)


def test_no_guidance_is_identity_and_params_validate():
    cond = (torch.randn(1, 4, 8), torch.randn(1, 3, 8))
    video, audio = guide(cond, NO_GUIDANCE)
    assert torch.equal(video, cond[0]) and torch.equal(audio, cond[1])
    assert GuidanceParams(skip_step=1).skips(1) and not GuidanceParams(skip_step=1).skips(2)
    with pytest.raises(InputError, match="skip_step"):
        GuidanceParams(skip_step=-1)
