"""Resident-memory and time measurement shared by the benchmarks (Linux /proc)."""

import re
import time

# Set in a child's environment so large allocations come straight from mmap and are returned on free: the
# peak-RSS watermark then shows what one call needs, not what the allocator kept from earlier calls.
MMAP_ENV = "MALLOC_MMAP_THRESHOLD_"


def status_kib(field: str) -> int:
    """A field of /proc/self/status (VmRSS, VmHWM, RssAnon, ...) in KiB."""
    with open("/proc/self/status") as handle:
        return int(re.search(rf"{field}:\s+(\d+)", handle.read()).group(1))


def timed(fn) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fn):
    """(seconds, peak extra resident MiB) of one call: the watermark is reset first."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak-RSS watermark
    before = status_kib("VmRSS")
    seconds = timed(fn)
    return seconds, (status_kib("VmHWM") - before) / 1024


def consume(chunks) -> int:
    """Take the chunks one by one and drop each, as a frame writer would; returns the frame count."""
    count = 0
    for chunk in chunks:
        count += chunk.shape[2]
        del chunk
    return count
