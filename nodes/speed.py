"""Opt-in speed options on the transformer: regional torch.compile and the first-block step cache.

Both return a clone of the model (its ModelPatcher cloned, the weights shared) carrying the option in the
patcher's `model_options`, which the sampler reads (`model_speed`). The module itself is never modified, so
LoRA clones, full and partial (lowvram) loading work as without the option.
"""

from comfy_api.latest import io

from .types import Model

CATEGORY = "LTX2/speed"
COMPILE_KEY = "ltx2_compile"
STEP_CACHE_KEY = "ltx2_step_cache"
BACKENDS = ("inductor", "cudagraphs", "aot_eager", "eager")


class SharedCompiled:
    """Compiled block stand-ins shared by every clone of the patcher (ModelPatcher.clone deep-copies
    model_options): compiled once per node run, reused by every sampling that follows."""

    def __init__(self, compiled) -> None:
        self.compiled = compiled

    def __deepcopy__(self, memo):
        return self


def model_speed(model):
    """(callable to use in place of `module`, a new StepCache or None) for a Network, from its options."""
    options = model.patcher.model_options
    shared = options.get(COMPILE_KEY)
    threshold = options.get(STEP_CACHE_KEY)
    step_cache = None
    if threshold is not None and threshold > 0:
        from ..ltx2_core.transformer.step_cache import StepCache

        step_cache = StepCache(threshold)
    return (shared.compiled if shared is not None else None), step_cache


class LTX2Compile(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2Compile",
            display_name="LTX2 Compile",
            category=CATEGORY,
            description="torch.compile of the transformer blocks, one block at a time (all blocks share one "
                        "compiled graph). The first step compiles (slow); later steps and runs at the same size "
                        "reuse it.",
            inputs=[
                Model.Input("model", tooltip="Transformer (GGUF, fp8, bf16; LoRAs may come before or after)."),
                io.Combo.Input("backend", options=list(BACKENDS), default="inductor",
                               tooltip="inductor (fastest; needs a C++/Triton toolchain), cudagraphs, or the "
                                       "debugging backends aot_eager / eager."),
                io.Boolean.Input("dynamic", default=False,
                                 tooltip="Compile for varying sizes at once (fewer recompiles, slower kernels)."),
            ],
            outputs=[Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model, backend="inductor", dynamic=False):
        from ..ltx2_core.compile import CompiledTransformer, CompileOptions

        compiled = model.clone()
        options = CompileOptions(backend=backend, dynamic=True if dynamic else None)
        compiled.patcher.model_options[COMPILE_KEY] = SharedCompiled(CompiledTransformer(model.module, options))
        return io.NodeOutput(compiled)


class LTX2StepCache(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2StepCache",
            display_name="LTX2 Step Cache",
            category=CATEGORY,
            description="Skips the transformer blocks after the first when the first block's output barely changed "
                        "since the last full step, reusing their last contribution. Faster, approximate; 0 = off.",
            inputs=[
                Model.Input("model", tooltip="Transformer to sample with."),
                io.Float.Input("threshold", default=0.05, min=0.0, max=1.0, step=0.005,
                               tooltip="Relative change of the first block's output below which a step reuses the "
                                       "cached blocks (higher = faster, less exact; 0 = off)."),
            ],
            outputs=[Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model, threshold=0.05):
        from ..ltx2_core.transformer.step_cache import StepCache

        StepCache(threshold)  # validates
        cached = model.clone()
        cached.patcher.model_options[STEP_CACHE_KEY] = float(threshold)
        return io.NodeOutput(cached)
