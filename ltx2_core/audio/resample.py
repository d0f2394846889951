"""Band-limited resampling in torch: Hann-windowed sinc interpolation.

`resample` follows the classic polyphase formulation (the one torchaudio's default
`functional.resample` uses: lowpass width 6 zero crossings, rolloff 0.99, zero-padded edges,
output length ceil(N * new / orig)). `upsample_replicate` is the integer-ratio variant with
replicate-padded edges that LTX-2.3's bandwidth extension uses for its skip path.
"""

import math

import torch
import torch.nn.functional as F

from ..errors import InputError

LOWPASS_WIDTH = 6
ROLLOFF = 0.99


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def sinc_kernel(orig: int, new: int, *, device=None, dtype=torch.float32, width_zeros: int = LOWPASS_WIDTH,
                rolloff: float = ROLLOFF):
    """Polyphase kernels (new, 1, 2 * width + orig) and the half-width, for reduced rates `orig` -> `new`."""
    cutoff = min(orig, new) * rolloff
    width = math.ceil(width_zeros * orig / cutoff)
    taps = torch.arange(-width, width + orig, dtype=torch.float64, device=device) / orig  # (K,)
    phases = -torch.arange(new, dtype=torch.float64, device=device)[:, None] / new  # (new, 1)
    t = ((phases + taps[None, :]) * cutoff).clamp(-width_zeros, width_zeros)  # (new, K)
    window = torch.cos(t * (math.pi / width_zeros / 2)) ** 2
    arg = t * math.pi
    safe = torch.where(arg == 0, torch.ones_like(arg), arg)
    sinc = torch.where(arg == 0, torch.ones_like(arg), torch.sin(safe) / safe)
    kernel = sinc * window * (cutoff / orig)
    return kernel[:, None, :].to(dtype), width


def resample(waveform: torch.Tensor, orig_sample_rate: int, new_sample_rate: int) -> torch.Tensor:
    """Resample (..., N) from `orig_sample_rate` to `new_sample_rate` -> (..., ceil(N * new / orig))."""
    if int(orig_sample_rate) != orig_sample_rate or int(new_sample_rate) != new_sample_rate:
        raise InputError(f"Sample rates must be integers, got {orig_sample_rate} and {new_sample_rate}.")
    if orig_sample_rate <= 0 or new_sample_rate <= 0:
        raise InputError(f"Sample rates must be positive, got {orig_sample_rate} and {new_sample_rate}.")
    if orig_sample_rate == new_sample_rate:
        return waveform
    gcd = math.gcd(int(orig_sample_rate), int(new_sample_rate))
    orig, new = int(orig_sample_rate) // gcd, int(new_sample_rate) // gcd
    work = _work_dtype(waveform.dtype)
    kernel, width = sinc_kernel(orig, new, device=waveform.device, dtype=work)
    lead, length = waveform.shape[:-1], waveform.shape[-1]
    flat = F.pad(waveform.reshape(-1, length).to(work), (width, width + orig))  # (B*, N + 2w + orig)
    out = F.conv1d(flat[:, None], kernel, stride=orig)  # (B*, new, frames)
    out = out.transpose(1, 2).reshape(flat.shape[0], -1)  # (B*, frames * new) interleaved phases
    target = math.ceil(new * length / orig)
    return out[:, :target].reshape(*lead, target).to(waveform.dtype)  # (..., target)


def hann_sinc_upsample_filter(ratio: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Single transposed-conv filter (2 * width * ratio + 1,) for integer upsampling by `ratio`.

    Built on the CPU in the working dtype (float64 for float64, else float32, as the LTX-2.3 reference builds
    its non-persistent skip filter), then moved to `device` / `dtype`.
    """
    work = _work_dtype(dtype)
    width = math.ceil(LOWPASS_WIDTH / ROLLOFF)
    size = 2 * width * ratio + 1
    t = (torch.arange(size, dtype=work) / ratio - width) * ROLLOFF
    window = torch.cos(t.clamp(-LOWPASS_WIDTH, LOWPASS_WIDTH) * math.pi / LOWPASS_WIDTH / 2) ** 2
    taps = torch.sinc(t) * window * ROLLOFF / ratio
    return taps.to(device=device, dtype=dtype)


def upsample_replicate(x: torch.Tensor, ratio: int, taps: torch.Tensor) -> torch.Tensor:
    """Integer-ratio sinc upsampling of (B, C, L) -> (B, C, ratio * L) with replicate-padded edges."""
    width = math.ceil(LOWPASS_WIDTH / ROLLOFF)
    size = taps.shape[0]
    channels = x.shape[1]
    padded = F.pad(x, (width, width), mode="replicate")  # (B, C, L + 2w)
    filt = taps.to(x.dtype).view(1, 1, size).expand(channels, 1, size)
    y = ratio * F.conv_transpose1d(padded, filt, stride=ratio, groups=channels)  # (B, C, ratio*(L+2w-1)+size)
    return y[..., 2 * width * ratio: y.shape[-1] - (size - ratio)]
