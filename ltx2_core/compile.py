"""Regional `torch.compile` of the transformer (opt-in): each block compiled on its own, the model untouched.

`CompiledTransformer(model)` is a drop-in callable for the denoise loop: it calls `model` with compiled
stand-ins for `model.transformer_blocks` (`LTX2Transformer.forward(blocks=...)`). All blocks share one
forward, so dynamo compiles it once and reuses the graph for every block and every step at a fixed size
(parameters are graph inputs); only the preparation and output layers run eagerly. The module itself is
never modified: its parameter names, state dict and any host model patcher see the plain model.
"""

from dataclasses import dataclass
from typing import Any, Callable, List, Optional

import torch

from .errors import InputError

BACKENDS = ("inductor", "aot_eager", "eager", "cudagraphs")
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass(frozen=True)
class CompileOptions:
    """torch.compile settings. backend: a name from BACKENDS or a dynamo backend callable (tests);
    dynamic=None lets dynamo decide (static first, dynamic after a size change)."""

    backend: Any = "inductor"
    mode: str = "default"
    dynamic: Optional[bool] = None
    fullgraph: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.backend, str) and self.backend not in BACKENDS:
            raise InputError(f"Unknown compile backend {self.backend!r}: use one of {', '.join(BACKENDS)}.")
        if self.mode not in MODES:
            raise InputError(f"Unknown compile mode {self.mode!r}: use one of {', '.join(MODES)}.")


def compile_blocks(blocks, options: CompileOptions = CompileOptions()) -> List[Callable]:
    """One compiled callable per block of `blocks` (an nn.ModuleList); each shares the block's parameters."""
    mode = options.mode if options.backend == "inductor" and options.mode != "default" else None  # inductor only
    return [torch.compile(block, backend=options.backend, mode=mode, dynamic=options.dynamic,
                          fullgraph=options.fullgraph) for block in blocks]


class CompiledTransformer:
    """`model` with its blocks compiled regionally; called like the model (extra keywords pass through)."""

    def __init__(self, model: torch.nn.Module, options: CompileOptions = CompileOptions()) -> None:
        if not hasattr(model, "transformer_blocks"):
            raise InputError("Compile needs an LTX-2 transformer (a module with transformer_blocks).")
        self.model, self.options = model, options
        self.blocks = compile_blocks(model.transformer_blocks, options)

    @property
    def config(self):
        return self.model.config

    def __call__(self, video, audio, perturbations=None, **kwargs):
        return self.model(video, audio, perturbations, blocks=self.blocks, **kwargs)
