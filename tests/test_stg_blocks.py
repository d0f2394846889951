"""Default STG blocks fit the model's depth; blocks a model lacks are refused with one line."""

import pytest

from ltx2_core.errors import InputError
from ltx2_core.pipeline.guidance import (
    LTX2_DEV_GUIDANCE, LTX23_DEV_GUIDANCE, NO_GUIDANCE, Guidance, GuidanceParams, check_stg_blocks, fit_stg_blocks,
)


@pytest.mark.parametrize("preset, layers, expected", [
    (LTX23_DEV_GUIDANCE, 48, (28,)), (LTX2_DEV_GUIDANCE, 48, (29,)),  # released depth: the reference block
    (LTX23_DEV_GUIDANCE, 2, (1,)), (LTX2_DEV_GUIDANCE, 2, (1,)),  # round(28 * 2 / 48) = round(29 * 2 / 48) = 1
    (LTX23_DEV_GUIDANCE, 1, (0,)), (LTX23_DEV_GUIDANCE, 12, (7,)), (LTX2_DEV_GUIDANCE, 29, (18,)),
    (LTX2_DEV_GUIDANCE, 30, (29,)),
])
def test_preset_blocks_fit_the_depth(preset, layers, expected):
    fitted = fit_stg_blocks(preset, layers)
    assert fitted.video.stg_blocks == fitted.audio.stg_blocks == expected
    assert (fitted.video.cfg, fitted.audio.cfg, fitted.video.stg) == (preset.video.cfg, preset.audio.cfg, 1.0)
    check_stg_blocks(fitted, layers)


def test_blocks_beyond_the_model_are_refused_with_one_line():
    with pytest.raises(InputError) as info:
        check_stg_blocks(LTX23_DEV_GUIDANCE, 2)
    assert str(info.value) == "STG block(s) 28 do not exist in this 2-block model: use block numbers 0..1."
    guidance = Guidance(GuidanceParams(stg=0.0, stg_blocks=(40,)), GuidanceParams(stg=1.0, stg_blocks=(1, 5, 7)))
    with pytest.raises(InputError, match=r"^STG block\(s\) 5, 7 do not exist in this 4-block model"):
        check_stg_blocks(guidance, 4)
    check_stg_blocks(NO_GUIDANCE, 1)
    check_stg_blocks(Guidance(GuidanceParams(stg=0.0, stg_blocks=(40,))), 2)  # STG off: blocks unused


def test_generate_defaults_fit_the_demo_model():
    from ltx2_core.pipeline.demo import demo_components
    from ltx2_core.pipeline.generate import default_guidance, default_stage1

    parts = demo_components()
    assert parts.transformer.config.num_layers == 2
    assert default_guidance(parts).video.stg_blocks == (1,)
    assert default_stage1(parts, 2, None, None, "euler").guidance.audio.stg_blocks == (1,)
    with pytest.raises(InputError, match="do not exist in this 2-block model"):
        default_stage1(parts, 2, LTX23_DEV_GUIDANCE, None, "euler")
