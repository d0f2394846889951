"""`ModalityInput.enabled=False`: a stream present in the pass but not denoised, against ltx-core 1.0.0's
`Modality.enabled` (the current official code treats a disabled stream the same way)."""

import dataclasses

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.transformer import Perturbations, TransformerConfig
from test_transformer_oracle_utils import ltx_core_model, make_inputs, max_errors, random_model, to_ltx_modality


def _pair(config, dtype, video, audio):
    ours = random_model(config, torch.float64)
    ref = ltx_core_model(config, ours.state_dict(), dtype)
    ours = ours.to(dtype)
    with torch.no_grad():
        got = ours(video, audio, Perturbations.none(2))
        want = ref(to_ltx_modality(video), to_ltx_modality(audio), None)
    return ours, got, want


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["fp64", "fp32"])
@pytest.mark.parametrize("disabled", ["audio", "video"])
@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_disabled_stream_parity_ltx_core(version, disabled, dtype):
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma")
    video, audio = make_inputs(config, dtype, first_frame_clean=True, audio_sigma=0.3)
    if disabled == "audio":
        audio = dataclasses.replace(audio, enabled=False)
    else:
        video = dataclasses.replace(video, enabled=False)
    model, got, want = _pair(config, dtype, video, audio)
    for ours, ref in zip(got, want):
        assert ours.shape == ref.shape and ours.dtype == dtype
        abs_err, rel_err = max_errors(ours, ref)
        assert abs_err <= 1e-10 if dtype == torch.float64 else rel_err <= 1e-5, (abs_err, rel_err)
    with torch.no_grad():
        both = model(dataclasses.replace(video, enabled=True), dataclasses.replace(audio, enabled=True))
        alone = model(video if disabled == "audio" else None, audio if disabled == "video" else None)
    active = 0 if disabled == "audio" else 1
    # The disabled stream still feeds the active one: its output differs from a single-stream pass ...
    assert (got[active] - alone[active]).abs().max() > 1e-3
    # ... and both differ from the pass where both streams are denoised.
    assert (got[0] - both[0]).abs().max() > 1e-3 and (got[1] - both[1]).abs().max() > 1e-3


def test_both_disabled_is_the_output_projection_of_the_inputs():
    config = TransformerConfig.tiny("2.3", cross_modulation="other_sigma")
    video, audio = make_inputs(config, torch.float64)
    video, audio = dataclasses.replace(video, enabled=False), dataclasses.replace(audio, enabled=False)
    model = random_model(config, torch.float64)
    with torch.no_grad():
        got = model(video, audio)
        deeper = random_model(config.replace(num_layers=config.num_layers + 1), torch.float64)
        shared = {k: v for k, v in model.state_dict().items() if not k.startswith("transformer_blocks.")}
        deeper.load_state_dict({**deeper.state_dict(), **shared})
        again = deeper(video, audio)
    # No block changes a disabled stream, so the number (and weights) of blocks cannot matter.
    assert torch.equal(got[0], again[0]) and torch.equal(got[1], again[1])


def test_enabled_must_be_a_bool():
    config = TransformerConfig.tiny("2.0")
    video, audio = make_inputs(config, torch.float32)
    with pytest.raises(InputError, match=r"audio\.enabled must be True or False"):
        random_model(config, torch.float32)(video, dataclasses.replace(audio, enabled=torch.tensor(0)))
