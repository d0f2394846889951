"""Interleaved timing of several implementations in one run (load changes hit all of them alike)."""

import time
from typing import Callable, Dict, List, Optional, Tuple

import torch


def interleaved(runs: Dict[str, Callable[[], object]], repeats: int, sync: Optional[Callable[[], None]] = None,
                ) -> Tuple[Dict[str, object], Dict[str, List[float]], Dict[str, List[float]]]:
    """(warm-up output, wall seconds, thread-CPU seconds) per name, under inference mode; each round calls every
    run once in turn; `sync` (e.g. torch.cuda.synchronize) is called before a run's clock stops."""
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    with torch.inference_mode():
        outputs = {name: run() for name, run in runs.items()}
        for _ in range(repeats):
            for name, run in runs.items():
                start, start_cpu = time.perf_counter(), time.thread_time()
                run()
                if sync is not None:
                    sync()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.thread_time() - start_cpu)
    return outputs, wall, cpu
