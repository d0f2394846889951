"""ComfyUI adapter of the pack: V3 nodes over ltx2_core. Importing this package needs a running ComfyUI."""

from . import (
    conditioning, decode, latent, loaders, long, ltx25, ltxv, ltxv_sampling, parallel, reference, sampling, speed,
    text, video_to_audio,
)

NODE_CLASSES = (
    loaders.LTX2CheckpointLoader,
    loaders.LTX2TransformerLoader,
    loaders.LTX2TextEncoderLoader,
    loaders.LTX2VideoVAELoader,
    loaders.LTX2AudioVAELoader,
    loaders.LTX2LatentUpscalerLoader,
    loaders.LTX2LoraLoader,
    ltxv.LTX2T5TextEncoderLoader,
    ltx25.LTX2DurationHeadLoader,
    text.LTX2TextEncode,
    text.LTX2PromptEnhancer,
    latent.LTX2EmptyAVLatent,
    latent.LTX2LatentUpscale,
    conditioning.LTX2ImageConditioning,
    conditioning.LTX2VideoContinuation,
    conditioning.LTX2AudioConditioning,
    conditioning.LTX2GeneratedKeyframes,
    video_to_audio.LTX2VideoToAudio,
    long.LTX2Extend,
    long.LTX2JoinSegments,
    reference.LTX2ICLoRAGuide,
    reference.LTX2ReferenceAudio,
    sampling.LTX2Guider,
    sampling.LTX2Scheduler,
    sampling.LTX2Sampler,
    speed.LTX2Compile,
    speed.LTX2StepCache,
    ltxv_sampling.LTX2LTXVScheduler,
    decode.LTX2VideoDecode,
    decode.LTX2AudioDecode,
    parallel.LTX2ParallelWorkers,
    parallel.LTX2ParallelSampler,
    parallel.LTX2ParallelVideoDecode,
)

NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in NODE_CLASSES}
# V3 nodes carry their display names in their schemas; V1-style tools read this mapping.
DISPLAY_NAMES = {cls.__name__: cls.define_schema().display_name for cls in NODE_CLASSES}
