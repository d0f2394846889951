"""LTX-Video 0.9.x sampling: schedules, guidance, conditioning, the denoise loop, decode, generation."""

from .components import LTXVComponents, load_ltxv_components
from .conditioning import LTXVCondition
from .decode import decode_ltxv
from .denoise import denoise_ltxv
from .generate import LTXVGeneration, generate
from .guidance import LTXVGuidance
from .multiscale import adain, upsample_ltxv_latent
from .schedules import DISTILLED_FIRST_PASS, DISTILLED_SECOND_PASS, LTXVScheduler, ltxv_sigmas

__all__ = ["DISTILLED_FIRST_PASS", "DISTILLED_SECOND_PASS", "LTXVComponents", "LTXVCondition", "LTXVGeneration",
           "LTXVGuidance", "LTXVScheduler", "adain", "decode_ltxv", "denoise_ltxv", "generate",
           "load_ltxv_components", "ltxv_sigmas", "upsample_ltxv_latent"]
