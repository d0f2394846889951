"""LTX-Video 0.9.x sampling: schedules, guidance, conditioning, the denoise loop, decode, generation."""

from .conditioning import LTXVCondition
from .denoise import denoise_ltxv
from .guidance import LTXVGuidance
from .schedules import DISTILLED_FIRST_PASS, DISTILLED_SECOND_PASS, LTXVScheduler, ltxv_sigmas

__all__ = ["DISTILLED_FIRST_PASS", "DISTILLED_SECOND_PASS", "LTXVCondition", "LTXVGuidance", "LTXVScheduler",
           "denoise_ltxv", "ltxv_sigmas"]
