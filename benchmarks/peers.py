"""Side by side with the peers: ComfyUI native, ComfyUI-GGUF, ltx-core; ratios measured in the same run.

    python -m benchmarks.peers [--comfyui DIR] [--comfyui-gguf DIR] [--repeats 5] [--smoke]

Rows (x = peer time / our time, above 1 means we are faster; thread CPU time, best of --repeats, the two
sides interleaved, 1 torch thread):
  native     one sampler step's model call (the AV transformer on video + audio tokens) vs ComfyUI's own
             LTX-2 model, loaded through `comfy.sd.load_diffusion_model` from a synthetic LTX-2 (19B layout)
             file at reduced width; bf16 and fp32; SDPA on both sides, and each side's default attention
             (ours: `make_attention("auto")`; native: the attention the host selected at start-up).
             Runs in a child process on the host's own python (`<DIR>/../venv/bin/python`), since ComfyUI
             needs its own dependencies; our code comes from this repository on sys.path.
  native VAE tiled / whole video VAE decode vs ComfyUI's (LTX-2 decoder layout, float32); the tiled row
             also runs ours with tiles one at a time and with the official (aspect) plan, vs the same native time.
  gguf fwd   our forward from a Q8_0 / Q4_0 GGUF file vs the same model in bf16 (overhead = ratio - 1).
  dequant    packed block -> bf16 for each ggml type, ours vs ComfyUI-GGUF's torch `dequantize` (imported from
             --comfyui-gguf DIR, a checkout; skipped without it).
  ltx-core   transformer forward (LTX-2.3 layout) vs ltx-core's LTXModel, fp32.
A peer that is absent is skipped with the reason. The benchmark reads and writes only a temporary folder.
`--smoke` runs every row at tiny size with one repeat (CI keeps it working).
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_TAG = "v0.8.0"
DEQUANT_TYPES = ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS")


def best_times(fns, repeats: int) -> list:
    """Best thread CPU time of each function; every round runs all of them once, in turn (after a warm-up)."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.thread_time()
            fn()
            best[i] = min(best[i], time.thread_time() - start)
    return best


def row(label: str, ours: float, peer: float, peer_name: str, extra: str = "") -> None:
    print(f"  {label:<34} ours {ours * 1e3:9.2f} ms  {peer_name} {peer * 1e3:9.2f} ms  x {peer / ours:5.2f}{extra}")


# ------------------------------------------------------------------------------------------ hosts


def find_host(explicit):
    """(ComfyUI source dir, its python) of the 0.8.0 host, or (None, reason)."""
    candidates = [explicit] if explicit else []
    for var in ("COMFYUI_PATHS", "COMFYUI_PATH"):
        candidates += [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    candidates += [os.path.join(REPO, ".comfyui", HOST_TAG, "ComfyUI")]
    for path in candidates:
        python = os.path.join(os.path.dirname(os.path.abspath(path)), "venv", "bin", "python")
        if explicit and path == explicit or HOST_TAG in os.path.abspath(path):
            if os.path.isfile(os.path.join(path, "comfy", "sd.py")) and os.path.isfile(python):
                return path, python
    return None, (f"no ComfyUI {HOST_TAG} host found (looked at --comfyui, COMFYUI_PATHS, .comfyui/{HOST_TAG}); "
                  f"build one with scripts/setup_comfyui.sh {HOST_TAG}")


# ------------------------------------------------------------------------------------------ native


def _native_config(smoke: bool):
    from ltx2_core.transformer import TransformerConfig

    if smoke:
        return TransformerConfig.ltx2_19b(num_layers=1, heads=2, head_dim=16, cross_attention_dim=32, audio_heads=2,
                                          audio_head_dim=8, audio_cross_attention_dim=16, caption_channels=32)
    return TransformerConfig.ltx2_19b(num_layers=2, heads=8, head_dim=64, cross_attention_dim=512, audio_heads=8,
                                      audio_head_dim=32, audio_cross_attention_dim=256, caption_channels=512)


def _randomize(model, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.2 if p.ndim == 1 or "table" in name else p.shape[-1] ** -0.5
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model.eval()


def native_worker(args) -> None:
    """Runs on the host's python: ours vs ComfyUI's LTXAV model, same weights, same inputs."""
    sys.path.insert(0, args.comfyui)
    import comfy.cli_args

    comfy.cli_args.args.cpu = True
    import comfy.ldm.modules.attention as comfy_attention
    import comfy.sd
    from safetensors.torch import save_file

    from ltx2_core.attention import make_attention, sdpa_attention
    from ltx2_core.transformer import LTX2Transformer, ModalityInput, audio_positions, video_positions

    torch.set_num_threads(1)
    config = _native_config(args.smoke)
    frames, height, width, n_audio, n_ctx = (2, 4, 4, 9, 8) if args.smoke else (3, 8, 12, 49, 64)
    model = _randomize(LTX2Transformer(config))
    state = {"model.diffusion_model." + k: v.contiguous() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    vx = torch.randn(1, config.in_channels, frames, height, width, generator=gen)
    ax = torch.randn(1, 8, n_audio, config.audio_in_channels // 8, generator=gen)  # (B, C, T, F)
    ctx = torch.randn(1, n_ctx, 2 * config.caption_channels, generator=gen)
    sigma = torch.tensor([0.7])
    default_name = comfy_attention.optimized_attention.__name__
    print(f"native: ComfyUI {HOST_TAG} at {args.comfyui}; LTX-2 layout, {config.num_layers} layers, video "
          f"{config.dim} / audio {config.audio_dim} wide, {frames * height * width} video + {n_audio} audio tokens; "
          f"host default attention {default_name}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ltx2-peer.safetensors")
        save_file(state, path, metadata={"config": json.dumps(config.to_metadata())})
        for dtype in (torch.bfloat16, torch.float32):
            native = comfy.sd.load_diffusion_model(path, model_options={"dtype": dtype}).model.diffusion_model.eval()
            ours_sdpa = LTX2Transformer(config, dtype=dtype).eval()
            ours_sdpa.load_state_dict({k: v.to(dtype) for k, v in model.state_dict().items()})
            ours_auto = LTX2Transformer(config, attention_fn=make_attention("auto"), dtype=dtype).eval()
            ours_auto.load_state_dict(ours_sdpa.state_dict())
            v_lat = vx.flatten(2).transpose(1, 2).to(dtype)  # (B, F*H*W, C)
            a_lat = ax.permute(0, 2, 1, 3).flatten(2).to(dtype)  # (B, T, C*F)
            video = ModalityInput(v_lat, sigma, sigma.expand(1, v_lat.shape[1]),
                                  video_positions(1, frames, height, width, fps=25.0),
                                  ctx[..., :config.caption_channels].to(dtype))
            audio = ModalityInput(a_lat, sigma, sigma.expand(1, n_audio), audio_positions(1, n_audio),
                                  ctx[..., config.caption_channels:].to(dtype))
            sdpa_override = {"optimized_attention_override":
                             lambda func, *a, **kw: comfy_attention.attention_pytorch(*a, **kw)}

            def run_native(options):
                return native([vx.to(dtype), ax.to(dtype)], sigma, ctx.to(dtype), frame_rate=25,
                              transformer_options=dict(options))

            with torch.inference_mode():
                out_ours = ours_sdpa(video, audio)[0].float()
                out_native = run_native(sdpa_override)[0].float().flatten(2).transpose(1, 2)
                diff = ((out_ours - out_native).abs().max() / out_native.abs().max()).item()
                t = best_times([lambda: ours_sdpa(video, audio), lambda: run_native(sdpa_override),
                                lambda: ours_auto(video, audio), lambda: run_native({})], args.repeats)
            name = str(dtype).split(".")[-1]
            row(f"step {name}, SDPA both", t[0], t[1], "native", f"  (max rel diff {diff:.1e})")
            row(f"step {name}, defaults (native {default_name})", t[2], t[3], "native")
            del native
    native_vae(args, comfy)


def native_vae(args, comfy) -> None:
    """Tiled (and whole) video VAE decode, ours vs ComfyUI's, same LTX-2-layout weights, float32."""
    import copy

    from ltx2_core.video_vae import LTX2_VAE_METADATA, TilingConfig, VideoVAE, VideoVAEConfig

    meta = copy.deepcopy(LTX2_VAE_METADATA)  # ComfyUI builds the decoder at base width 128: so do we
    meta["decoder_blocks"] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in meta["decoder_blocks"]]
    ours = _randomize(VideoVAE(VideoVAEConfig.from_metadata(meta), components=("decoder",)))
    with torch.no_grad():
        for name, buf in ours.named_buffers():
            buf.copy_(torch.zeros_like(buf) if "mean" in name.split(".")[-1].split("-")[0] else torch.ones_like(buf))
    state = {k: v.contiguous() for k, v in ours.state_dict().items()}
    native_meta = dict(meta, dims=3, spatial_padding_mode=meta["decoder_spatial_padding_mode"])
    native = comfy.sd.VAE(sd=state, metadata={"config": json.dumps({"vae": native_meta})})
    frames, height, width = (9, 64, 64) if args.smoke else (17, 192, 256)
    z = torch.randn(1, meta["latent_channels"], 1 + (frames - 1) // 8, height // 32, width // 32,
                    generator=torch.Generator().manual_seed(3))
    tile_px, overlap_px = (64, 32) if args.smoke else (128, 64)
    tiling = TilingConfig(tile_size_px=tile_px, tile_overlap_px=overlap_px, chunk_frames=None)
    one_by_one = dataclasses.replace(tiling, batch_tiles=False)
    official = dataclasses.replace(tiling, tile_shape="aspect", batch_tiles=False)
    print(f"native VAE: LTX-2 decoder layout (one res block per stage), float32, {width}x{height}x{frames} px, "
          f"tiles {tile_px} px / overlap {overlap_px} px (native: tile {tile_px // 32} / overlap "
          f"{overlap_px // 32} latent); ours: square tiles, equal tiles batched in the low-resolution stages")
    with torch.inference_mode():
        whole_ours = ours.decode(z).float()
        whole_native = native.decode(z).float().movedim(-1, 1)  # (B, F, H, W, 3) -> (B, 3, F, H, W) in [0, 1]
        diff = (whole_ours.clamp(-1, 1).add(1).div(2) - whole_native).abs().max().item()
        tiled_native = native.decode_tiled(z, tile_x=tile_px // 32, tile_y=tile_px // 32, overlap=overlap_px // 32)
        tiled_ours = ours.decode(z, tiling=tiling).float().clamp(-1, 1).add(1).div(2).movedim(1, -1)
        tiled_diff = (tiled_ours.reshape(tiled_native.shape) - tiled_native.float()).abs().max().item()
        t = best_times([lambda: ours.decode(z, tiling=tiling),
                        lambda: native.decode_tiled(z, tile_x=tile_px // 32, tile_y=tile_px // 32,
                                                    overlap=overlap_px // 32),
                        lambda: ours.decode(z, tiling=one_by_one), lambda: ours.decode(z, tiling=official),
                        lambda: ours.decode(z), lambda: native.decode(z)], args.repeats)
    row("VAE tiled decode", t[0], t[1], "native", f"  (max |diff| tiled {tiled_diff:.1e})")
    row("  same, tiles one at a time", t[2], t[1], "native")
    row("  same, official (aspect) plan", t[3], t[1], "native")
    row("VAE whole decode", t[4], t[5], "native", f"  (max |diff| whole {diff:.1e})")


def native_rows(args) -> None:
    print("\n# ComfyUI native")
    host, python = find_host(args.comfyui)
    if host is None:
        print(f"  skipped: {python}")
        return
    cmd = [python, "-m", "benchmarks.peers", "--native-worker", "--comfyui", host, "--repeats", str(args.repeats)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    done = subprocess.run(cmd + (["--smoke"] if args.smoke else []), cwd=REPO, env=env, capture_output=True, text=True)
    sys.stdout.write("  " + done.stdout.replace("\n", "\n  ").rstrip() + "\n")
    if done.returncode:
        tail = done.stderr.strip().splitlines()[-1:] or ["no message"]
        print(f"  native worker failed (exit {done.returncode}): {tail[0]}")


# ------------------------------------------------------------------------------------------ GGUF


def _av_inputs(config, tokens: int, n_audio: int, n_ctx: int, dtype):
    from ltx2_core.transformer import ModalityInput, audio_positions, video_positions

    gen = torch.Generator().manual_seed(2)
    sigma = torch.tensor([0.6])
    side = int(round((tokens // 2) ** 0.5))
    n_video = 2 * side * side
    video = ModalityInput(torch.randn(1, n_video, config.in_channels, generator=gen).to(dtype), sigma,
                          sigma.expand(1, n_video), video_positions(1, 2, side, side, fps=24.0),
                          torch.randn(1, n_ctx, config.cross_attention_dim, generator=gen).to(dtype))
    audio = ModalityInput(torch.randn(1, n_audio, config.audio_in_channels, generator=gen).to(dtype), sigma,
                          sigma.expand(1, n_audio), audio_positions(1, n_audio),
                          torch.randn(1, n_ctx, config.audio_cross_attention_dim, generator=gen).to(dtype))
    return video, audio


def gguf_forward_rows(args) -> None:
    from safetensors.torch import save_file

    from ltx2_core.convert import convert
    from ltx2_core.gguf.loader import load_transformer_gguf
    from ltx2_core.transformer import LTX2Transformer, TransformerConfig

    print("\n# GGUF forward vs bf16 (ours; overhead = x - 1 with x = gguf / bf16 here)")
    heads, layers, tokens = (2, 1, 32) if args.smoke else (16, 2, 4096)  # full-size-like tokens per weight
    config = TransformerConfig.ltx23_22b(num_layers=layers, heads=heads, head_dim=64,
                                         cross_attention_dim=heads * 64, audio_heads=heads // 2, audio_head_dim=64,
                                         audio_cross_attention_dim=heads * 32)
    model = _randomize(LTX2Transformer(config)).to(torch.bfloat16)
    video, audio = _av_inputs(config, tokens, tokens // 32, 32, torch.bfloat16)
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "model.safetensors")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, src,
                  metadata={"config": json.dumps(config.to_metadata())})
        print(f"  LTX-2.3 layout, {layers} layers, video {config.dim} / audio {config.audio_dim} wide, "
              f"{video.latent.shape[1]} + {audio.latent.shape[1]} tokens")
        for qtype in ("Q8_0", "Q4_0"):
            dst = os.path.join(folder, f"model-{qtype}.gguf")
            convert(src, dst, qtype)
            packed = load_transformer_gguf(dst, dtype=torch.bfloat16).eval()
            with torch.inference_mode():
                t_bf16, t_gguf = best_times([lambda: model(video, audio), lambda: packed(video, audio)], args.repeats)
            print(f"  {qtype + ' forward':<34} gguf {t_gguf * 1e3:9.2f} ms  bf16 {t_bf16 * 1e3:9.2f} ms  "
                  f"overhead {100 * (t_gguf / t_bf16 - 1):+5.1f} %")
            del packed


def _load_comfyui_gguf(folder: str):
    """ComfyUI-GGUF's dequant.py, imported by file path (its package __init__ needs ComfyUI)."""
    path = os.path.join(folder, "dequant.py")
    if not os.path.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location("_comfyui_gguf_dequant", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dequant_rows(args) -> None:
    import gguf

    from benchmarks.gguf_dequant import random_weight
    from ltx2_core.gguf.dequant import TYPE_IDS, dequantize

    print("\n# GGUF dequant to bf16 vs ComfyUI-GGUF (torch)")
    if not args.comfyui_gguf:
        print("  skipped: ComfyUI-GGUF is not installed here; pass --comfyui-gguf DIR (a checkout of city96/ComfyUI-GGUF)")
        return
    peer = _load_comfyui_gguf(args.comfyui_gguf)
    if peer is None:
        print(f"  skipped: no dequant.py in {args.comfyui_gguf}")
        return
    size = 256 if args.smoke else 2048
    print(f"  {size}x{size} weight per type")
    ratios = []
    for name in ((("Q8_0", "Q4_0", "Q4_K") if args.smoke else DEQUANT_TYPES)):
        packed = torch.from_numpy(random_weight(name, size))
        qtype = gguf.GGMLQuantizationType[name]
        ours_fn = lambda: dequantize(packed, TYPE_IDS[name], (size, size), torch.bfloat16)  # noqa: E731
        peer_fn = lambda: peer.dequantize(packed, qtype, (size, size), dtype=torch.bfloat16)  # noqa: E731
        t_ours, t_peer = best_times([ours_fn, peer_fn], args.repeats)
        diff = (ours_fn().float() - peer_fn().float()).abs().max().item()
        ratios.append(t_peer / t_ours)
        row(name, t_ours, t_peer, "ComfyUI-GGUF", f"  (max |diff| {diff:.1e})")
    print(f"  lowest x {min(ratios):.2f} (target >= 1.2 for every type)")


# ------------------------------------------------------------------------------------------ ltx-core


def ltx_core_rows(args) -> None:
    print("\n# transformer forward vs ltx-core (fp32, LTX-2.3 layout)")
    try:
        from ltx_core.guidance.perturbations import BatchedPerturbationConfig
    except ImportError as error:
        print(f"  skipped: ltx-core is not importable ({error})")
        return
    from benchmarks.transformer_speed import _config, _inputs, _reference, _to_ltx
    from ltx2_core.transformer import LTX2Transformer

    layers, frames, size, context = (1, 2, 4, 16) if args.smoke else (4, 8, 16, 128)
    config = _config(layers)
    ours = _randomize(LTX2Transformer(config))
    ref = _reference(config, {k: v.clone() for k, v in ours.state_dict().items()})
    video, audio = _inputs(config, frames, size, context, torch.Generator().manual_seed(0))
    with torch.inference_mode():
        t_ours, t_ref = best_times([lambda: ours(video, audio),
                                    lambda: ref(_to_ltx(video), _to_ltx(audio), BatchedPerturbationConfig.empty(1))],
                                   args.repeats)
    row(f"{layers} layers, {video.latent.shape[1]}+{audio.latent.shape[1]} tokens", t_ours, t_ref, "ltx-core",
        "  (target >= 1.1)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comfyui", help=f"ComfyUI {HOST_TAG} source dir (its python at ../venv/bin/python)")
    parser.add_argument("--comfyui-gguf", help="a checkout of ComfyUI-GGUF (its dequant.py is the peer)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--only", default="native,gguf,dequant,ltx-core", help="comma-separated rows to run")
    parser.add_argument("--native-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats = 1
    if args.native_worker:
        native_worker(args)
        return
    torch.set_num_threads(1)
    print(f"peers benchmark: thread CPU time, best of {args.repeats}, 1 torch thread, torch {torch.__version__}; "
          f"x = peer / ours (> 1: ours faster); load average {os.getloadavg()[0]:.2f}")
    rows = {"native": native_rows, "gguf": gguf_forward_rows, "dequant": dequant_rows, "ltx-core": ltx_core_rows}
    for name in args.only.split(","):
        rows[name](args)


if __name__ == "__main__":
    main()
