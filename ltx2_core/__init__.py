"""ltx2_core: a self-contained PyTorch implementation of Lightricks' LTX-2 family (LTX-2, LTX-2.3).

Pure torch (+ safetensors, numpy, gguf, sentencepiece, av). Never imports ComfyUI: the node pack in
`nodes/` adapts it. Layers take an `operations` namespace (default `torch.nn`) and attention goes
through one swappable function (`ltx2_core.attention`).
"""

__version__ = "0.1.0"
