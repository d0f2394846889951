"""Audio decode + vocode time: ltx2_core vs ltx-core 1.0.0 (oracle), same random weights, same run.

    python -m benchmarks.audio_decode [--seconds 2] [--size tiny|mid] [--repeats 3] [--threads N]

Prints per-vocoder median wall times (audio VAE decode + vocoder; ours and ltx-core interleaved) and the
ratio ours / ltx-core, plus the max relative difference of the two waveforms.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_audio_oracle_utils import (bigvgan_metadata, hifigan_metadata, max_rel, oracle_vae,  # noqa: E402
                                     oracle_vocoder, randomize_vae, randomize_vocoder, vae_metadata)

from ltx2_core.audio import audio_latent_frames, decode_to_waveform, load_audio_vae, load_vocoder  # noqa: E402

SIZES = {
    "tiny": dict(vae=dict(ch=16, z=1, mel_bins=64, res_blocks=1), hifigan=64, bigvgan=(128, 64)),
    "mid": dict(vae=dict(ch=64, z=4, mel_bins=64, res_blocks=2), hifigan=256, bigvgan=(384, 128)),
}


def _median_times(fns, repeats):
    """Median wall time of each function; runs are interleaved so load changes hit all of them alike."""
    for fn in fns:
        fn()  # warm-up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) for bucket in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from ltx_core.model.audio_vae import decode_audio

    size = SIZES[args.size]
    vae_meta = vae_metadata(**size["vae"])
    ref_enc, ref_dec = oracle_vae(vae_meta)
    vae_sd = randomize_vae(ref_enc, ref_dec)
    vae = load_audio_vae(vae_sd, config=vae_meta)
    ref_dec.eval()
    frames = audio_latent_frames(round(args.seconds * 25), 25)
    z = size["vae"]["z"]
    latent = torch.randn(1, z, frames, 16, generator=torch.Generator().manual_seed(0))
    print(f"# audio decode+vocode | size={args.size} | {args.seconds:g} s = {frames} latents | float32 | "
          f"CPU threads={torch.get_num_threads()} | torch {torch.__version__} | median of {args.repeats}")
    print(f"{'vocoder':<14}{'ours s':>10}{'ltx-core s':>12}{'ratio':>8}{'max rel err':>14}{'samples':>10}")
    vocoders = (("hifigan", hifigan_metadata(size["hifigan"])), ("bigvgan+bwe", bigvgan_metadata(*size["bigvgan"])))
    for name, meta in vocoders:
        ref_voc = oracle_vocoder(meta)
        voc_sd = randomize_vocoder(ref_voc)
        ref_voc.eval()
        vocoder = load_vocoder(voc_sd, config=meta)
        with torch.no_grad():
            ours_out = decode_to_waveform(latent, vae, vocoder)[0]
            ref_out = decode_audio(latent, ref_dec, ref_voc).waveform
            t_ours, t_ref = _median_times([lambda: decode_to_waveform(latent, vae, vocoder),
                                           lambda: decode_audio(latent, ref_dec, ref_voc)], args.repeats)
        print(f"{name:<14}{t_ours:>10.3f}{t_ref:>12.3f}{t_ours / t_ref:>8.2f}{max_rel(ref_out, ours_out[0]):>14.2e}"
              f"{ours_out.shape[-1]:>10}")


if __name__ == "__main__":
    main()
