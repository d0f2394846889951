"""Run as a script with a Lightricks/LTX-2 source tree on PYTHONPATH (see test_pipeline_a2v.py): one
audio-to-video stage of ltx2_core against that source's own building blocks (a2vid_two_stage stage 1:
`create_noised_state`, the frozen audio state `DiffusionStage` builds, `GuidedDenoiser` with a
positive-only audio guider, `euler_denoising_loop`). Prints {"video_rel": ..., "audio_equal": ...} as JSON.
"""

import json
import os
import sys
from dataclasses import replace

import torch
from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.model.transformer import X0Model
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_core.types import AudioLatentShape, VideoLatentShape
from ltx_pipelines.utils.denoisers import GuidedDenoiser
from ltx_pipelines.utils.helpers import create_noised_state
from ltx_pipelines.utils.samplers import euler_denoising_loop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_transformer_oracle_utils import ltx_core_model  # noqa: E402

from ltx2_core.pipeline.conditioning import FrozenAudio, apply_conditionings  # noqa: E402
from ltx2_core.pipeline.conditioning import initial_audio_state, initial_video_state  # noqa: E402
from ltx2_core.pipeline.denoise import TextContext, denoise  # noqa: E402
from ltx2_core.pipeline.guidance import NO_GUIDANCE, Guidance, GuidanceParams  # noqa: E402
from ltx2_core.pipeline.latents import draw_noise, latent_shape, make_generator  # noqa: E402
from ltx2_core.pipeline.schedules import ltx2_sigmas  # noqa: E402
from ltx2_core.transformer import LTX2Transformer, TransformerConfig  # noqa: E402

FPS = 24.0
VIDEO = GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0)


def main() -> None:
    config = TransformerConfig.tiny("2.3")  # default cross_modulation: the current official one
    torch.manual_seed(4)
    ours = LTX2Transformer(config).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    oracle = X0Model(ltx_core_model(config, ours.state_dict(), torch.float32))
    shape = latent_shape(96, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    gen = torch.Generator().manual_seed(21)
    pos = (torch.randn(1, 6, config.dim, generator=gen), torch.randn(1, 6, config.audio_dim, generator=gen))
    neg = (torch.randn(1, 6, config.dim, generator=gen), torch.randn(1, 6, config.audio_dim, generator=gen))
    given = torch.randn(1, 2, shape.audio_frames, 4, generator=gen)
    sigmas = ltx2_sigmas(4)

    video = initial_video_state(shape, FPS)
    audio = apply_conditionings(initial_audio_state(shape), [FrozenAudio(given)], shape, FPS)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5))
    result = denoise(ours, shape, video, audio, sigmas, TextContext(*pos), TextContext(*neg),
                     Guidance(VIDEO, NO_GUIDANCE.audio), noise=noise)

    video_tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(*shape.video), FPS)
    audio_tools = AudioLatentTools(AudioPatchifier(1), AudioLatentShape(*shape.audio))
    noiser = GaussianNoiser(torch.Generator().manual_seed(5))
    video_state = create_noised_state(video_tools, [], noiser, torch.float32, "cpu", 1.0)
    audio_state = create_noised_state(audio_tools, [], noiser, torch.float32, "cpu", 0.0, given)
    audio_state = replace(audio_state, denoise_mask=torch.zeros_like(audio_state.denoise_mask), frozen=True)
    video_params = MultiModalGuiderParams(cfg_scale=VIDEO.cfg, stg_scale=VIDEO.stg, stg_blocks=list(VIDEO.stg_blocks),
                                          rescale_scale=VIDEO.rescale, modality_scale=VIDEO.modality)
    denoiser = GuidedDenoiser(pos[0], pos[1], video_guider=MultiModalGuider(video_params, negative_context=neg[0]),
                              audio_guider=MultiModalGuider(params=MultiModalGuiderParams()))
    with torch.no_grad():
        video_state, audio_state = euler_denoising_loop(sigmas, video_state, audio_state, EulerDiffusionStep(),
                                                        oracle, denoiser)
    ref_video = video_tools.unpatchify(video_tools.clear_conditioning(video_state)).latent
    ref_audio = audio_tools.unpatchify(audio_tools.clear_conditioning(audio_state)).latent
    rel = ((result.video - ref_video).norm() / ref_video.norm()).item()
    print(json.dumps({"video_rel": rel, "audio_equal": bool(torch.equal(result.audio, ref_audio)),
                      "ltx_core": os.path.dirname(sys.modules["ltx_core"].__file__)}))


if __name__ == "__main__":
    main()
