"""Text encode time and peak memory: pad-free vs the padded 1024-token path, measured in the same run.

`python -m benchmarks.text_encode [--layers 2] [--tokens 40] [--version ltx2] [--connector-layers 2]`
Full Gemma 3 12B width (hidden 3840, MLP 15360, 16 x 256 query heads, 8 kv heads) with only `--layers`
decoder layers (alternating sliding / global) and a 512-entry vocabulary, so it runs in seconds-to-a-minute
on a CPU; the LTX-2 text projection and two full-width connectors (30 x 128, `--connector-layers` blocks).
Random weights, float32, one prompt of `--tokens` tokens (BOS included) through the real tokenizer.
Prints, per path and clock (wall, and process CPU time: robust on a shared machine with `--threads 1`):
the whole encode, the Gemma + projection stage, the Gemma layers and the connectors (hooks inside the one
encode call); the peak resident-memory growth of one encode (a fresh process per path); and the ratios
padded / pad-free. The 48-layer line extrapolates: Gemma layers x 48 / layers, the rest of the
Gemma + projection stage (embedding, normalization, projection) x 49 states / (layers + 1), connectors as measured.
"""

import argparse
import json
import os
import resource
import string
import subprocess
import sys
import threading
import time
from dataclasses import replace

import torch

from ltx2_core.text import (
    ConnectorConfig,
    EmbeddingsConnector,
    FeatureExtractorConfig,
    GemmaConfig,
    GemmaTextModel,
    GemmaTokenizer,
    TextEncoder,
    TextProjection,
)
from ltx2_core.text.gemma_config import GLOBAL, SLIDING
from ltx2_core.text.tokenizer import build_model_proto

FULL_LAYERS = 48


def _tokenizer() -> GemmaTokenizer:
    """Specials, byte fallback and one piece per lowercase letter: a prompt of n letters is n + 1 tokens."""
    specials = [("<pad>", 3), ("<eos>", 3), ("<bos>", 3), ("<unk>", 2)]
    pieces = specials + [(f"<0x{b:02X}>", 6) for b in range(256)] + [(c, 1) for c in "\u2581" + string.ascii_lowercase]
    return GemmaTokenizer.from_bytes(build_model_proto([p for p, _ in pieces], [0.0] * len(pieces),
                                                       [t for _, t in pieces]), max_length=1024)


def _randomize(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.02, generator=g)
    return module


def build(layers: int, version: str, connector_layers: int) -> TextEncoder:
    types = tuple(SLIDING if i % 2 == 0 else GLOBAL for i in range(layers))
    gemma_cfg = replace(GemmaConfig.gemma3_12b(), num_layers=layers, layer_types=types, vocab_size=512)
    states = layers + 1
    if version == "ltx2":
        fe = FeatureExtractorConfig.ltx2(gemma_cfg.hidden_size, states)
        video_cfg = audio_cfg = ConnectorConfig(num_layers=connector_layers)
    else:
        fe = FeatureExtractorConfig.ltx23(gemma_cfg.hidden_size, states)
        video_cfg = ConnectorConfig(heads=32, num_layers=connector_layers, gated=True)
        audio_cfg = ConnectorConfig(heads=16, num_layers=connector_layers, gated=True)
    return TextEncoder(_randomize(GemmaTextModel(gemma_cfg), 1), _tokenizer(),
                       _randomize(TextProjection(fe), 2), _randomize(EmbeddingsConnector(video_cfg), 3),
                       _randomize(EmbeddingsConnector(audio_cfg), 4)).eval()


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _high_water() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


class PeakRSS:
    """Resident-set growth since `__enter__` (`growth()`): the kernel's high-water mark once the block has raised
    it, else the highest of samples taken every millisecond. Meaningful in a fresh process only (freed heap
    memory stays resident and is reused by later calls)."""

    def __enter__(self):
        self.base = self.sampled = _rss()
        self._before = _high_water()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.001):
            self.sampled = max(self.sampled, _rss())

    def growth(self) -> int:
        now = _high_water()
        return (now if now > self._before else max(self.sampled, _rss())) - self.base

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(encoder: TextEncoder, prompt: str, pad_free: bool) -> dict:
    """One encode, per clock (wall, process CPU): whole, Gemma + projection, Gemma layers, connectors (s)."""
    marks = {}

    def mark(name):
        def hook(*_):  # returns None: the hooked call's inputs and outputs stay as they are
            marks.setdefault(name, {k: clock() for k, clock in CLOCKS.items()})
        return hook

    hooks = [encoder.gemma.layers[0].register_forward_pre_hook(mark("layers")),
             encoder.gemma.layers[-1].register_forward_hook(mark("layers_end")),
             encoder.video_connector.register_forward_pre_hook(mark("conn"))]
    try:
        mark("start")()
        encoder.encode_uncached([prompt], pad_free=pad_free)
        mark("end")()
    finally:
        for hook in hooks:
            hook.remove()
    return {k: {"whole": marks["end"][k] - marks["start"][k], "features": marks["conn"][k] - marks["start"][k],
                "layers": marks["layers_end"][k] - marks["layers"][k], "connectors": marks["end"][k] - marks["conn"][k]}
            for k in CLOCKS}


def peak_in_child(args, pad_free: bool) -> dict:
    """Resident-memory growth of one encode, measured in a fresh interpreter: up to the connectors
    ("features") and for the whole encode ("whole"), in bytes."""
    command = [sys.executable, "-m", "benchmarks.text_encode", "--layers", str(args.layers), "--tokens",
               str(args.tokens), "--version", args.version, "--connector-layers", str(args.connector_layers),
               "--threads", str(torch.get_num_threads()), "--peak-child", "pad-free" if pad_free else "padded"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2, help="Gemma decoder layers (the real model has 48)")
    parser.add_argument("--tokens", type=int, default=40, help="prompt length in tokens, BOS included")
    parser.add_argument("--version", choices=("ltx2", "ltx23"), default="ltx2")
    parser.add_argument("--connector-layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--peak-child", choices=("padded", "pad-free"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    encoder = build(args.layers, args.version, args.connector_layers)
    prompt = "".join(string.ascii_lowercase[i % 26] for i in range(args.tokens - 1))
    assert int(encoder.tokenize([prompt])[1].sum()) == args.tokens
    if args.peak_child:
        stage = []
        with PeakRSS() as rss:

            def record(*_):  # at the connectors' start: the Gemma + projection stage's peak
                stage.append(rss.growth())

            hook = encoder.video_connector.register_forward_pre_hook(record)
            encoder.encode_uncached([prompt], pad_free=args.peak_child == "pad-free")
            hook.remove()
            print(json.dumps({"features": stage[0], "whole": rss.growth()}))
        return
    print(f"Gemma width 3840, {args.layers} layers, {args.version} projection, connectors "
          f"{args.connector_layers} blocks; prompt {args.tokens} tokens of 1024; float32, "
          f"{torch.get_num_threads()} threads")
    encoder.encode_uncached([prompt[:7]])  # warm-up (allocator, kernels) on a short prompt
    results = {"pad-free": measure(encoder, prompt, True), "padded": measure(encoder, prompt, False)}
    del encoder
    for name, r in results.items():
        r["rss"] = peak_in_child(args, name == "pad-free")
    mib = 1024 * 1024
    print(f"{'path':10s} {'clock':5s} {'encode s':>9s} {'gemma+proj s':>13s} {'gemma layers s':>15s} "
          f"{'connectors s':>13s} {'48-layer est. s':>16s}")

    def full(r):  # Gemma layers scaled to 48, the rest of the Gemma + projection stage to 49 states
        rest = r["features"] - r["layers"]
        return r["connectors"] + r["layers"] / args.layers * FULL_LAYERS + rest * (FULL_LAYERS + 1) / (args.layers + 1)

    for clock in CLOCKS:
        for name, r in results.items():
            t = r[clock]
            print(f"{name:10s} {clock:5s} {t['whole']:9.3f} {t['features']:13.3f} {t['layers']:15.3f} "
                  f"{t['connectors']:13.3f} {full(t):16.1f}")
    for clock in CLOCKS:
        fast, slow = results["pad-free"][clock], results["padded"][clock]
        print(f"ratio padded / pad-free ({clock}): encode {slow['whole'] / fast['whole']:.2f}x, gemma+projection "
              f"{slow['features'] / fast['features']:.2f}x, extrapolated {FULL_LAYERS}-layer encode "
              f"{full(slow) / full(fast):.2f}x")
    print(f"{'path':10s} {'peak +MiB gemma+proj':>21s} {'peak +MiB encode':>17s}")
    for name, r in results.items():
        print(f"{name:10s} {r['rss']['features'] / mib:21.0f} {r['rss']['whole'] / mib:17.0f}")
    fast, slow = results["pad-free"]["rss"], results["padded"]["rss"]
    print(f"ratio padded / pad-free peak memory growth: gemma+projection "
          f"{slow['features'] / max(fast['features'], 1):.2f}x, encode {slow['whole'] / max(fast['whole'], 1):.2f}x")

if __name__ == "__main__":
    main()
