"""Sampling defaults keyed by the transformer file's `model_version` (official `detect_params` and
`should_use_ancestral_sampler`): LTX-2.5 dev guidance, steps and sigmas equal LTX-2.3's; what changes is

- model_version >= 2.4: image-conditioning CRF 18 (2.3: 33);
- model_version >= 2.5: the DISTILLED pipeline's stage 1 samples with Euler-ancestral (eta 1, s_noise 1) from
  its own generator seeded seed + 10000; stage 2 stays plain Euler. Dev runs are unchanged.
"""

from typing import Optional, Tuple

ANCESTRAL_SINCE = (2, 5)
IMAGE_CRF_18_SINCE = (2, 4)


def stage1_sampler(version: Optional[Tuple[int, ...]], distilled: bool, sampler: str) -> str:
    """The stage-1 sampler: "euler_ancestral" for a distilled >= 2.5 model left at the default "euler"."""
    if sampler == "euler" and distilled and version is not None and version >= ANCESTRAL_SINCE:
        return "euler_ancestral"
    return sampler


def image_crf(version: Optional[Tuple[int, ...]]) -> int:
    """The H.264 CRF conditioning images are re-encoded at (official LTX_2_4_PARAMS vs LTX_2_3_PARAMS)."""
    return 18 if version is not None and version >= IMAGE_CRF_18_SINCE else 33
