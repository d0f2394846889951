"""`RayPool`: N Ray actors (one per GPU, or CPU workers) each running a `worker.Worker` rank, reused between
calls until `shutdown` (also on interrupt). Ray is optional: `start` names the install command when it is
missing. Workers get the pack folder on their PYTHONPATH and `ray_setup.register_pack` registers the pack
under the caller's module name, so inside ComfyUI they load the pack's own ltx2_core without ComfyUI itself.
"""

import os
import socket
import sys
import time
from typing import Callable, List, Optional

from ..errors import InputError
from .worker import DecodeRequest, DenoiseRequest, Worker, WorkerSpec


class Interrupted(Exception):
    """The caller asked to stop; the workers were shut down."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InputError("The parallel workers need Ray: install it with `pip install ray` into ComfyUI's Python "
                         "(it is optional; nothing else of the pack needs it).") from None
    return ray


def _pack_location():
    """(the module name the caller gave the pack, "" when ltx2_core is top-level; the pack folder)."""
    marker = ".ltx2_core."
    name = __name__[:__name__.index(marker)] if marker in __name__ else ""
    return name, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _reraise(error: Exception):
    """A worker's InputError / CheckpointError as one line here; anything else as Ray raised it."""
    cause = getattr(error, "cause", None) or error
    if isinstance(cause, InputError) or type(cause).__name__ in ("InputError", "CheckpointError"):
        raise InputError(str(cause).splitlines()[-1]) from None
    raise error


class RayPool:
    def __init__(self, workers: int, spec: WorkerSpec) -> None:
        if workers < 1:
            raise InputError(f"workers {workers} is invalid: use 1 or more.")
        self.workers, self.spec = workers, spec
        self.actors: Optional[List] = None

    @property
    def running(self) -> bool:
        return self.actors is not None

    def start(self) -> None:
        """Starts Ray (locally, if this process has not joined a cluster) and the actors; no-op when running."""
        if self.actors is not None:
            return
        ray = _import_ray()
        gpu = self.spec.device == "cuda"
        if not ray.is_initialized():
            name, folder = _pack_location()
            path = os.pathsep.join(p for p in (folder, os.environ.get("PYTHONPATH")) if p)
            env = {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "LTX2_PACK_MODULE": name, "LTX2_PACK_DIR": folder}
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False,
                     num_cpus=None if gpu else max(self.workers, os.cpu_count() or 1),
                     runtime_env={"env_vars": env,
                                  "worker_process_setup_hook": "ltx2_core.parallel.ray_setup.register_pack"})
        actor = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(Worker)
        address = _free_address()
        self.actors = [actor.remote(rank, self.workers, address, self.spec) for rank in range(self.workers)]
        try:
            ray.get([a.ready.remote() for a in self.actors])
        except Exception as error:
            self.shutdown()
            _reraise(error)

    def denoise(self, request: DenoiseRequest, interrupted: Callable[[], bool] = lambda: False, poll: float = 0.1):
        """Rank 0's (video, audio) latents. `interrupted()` is polled; when it turns true the workers are shut
        down and `Interrupted` is raised (the next call starts fresh workers)."""
        return self._call("denoise", request, interrupted, poll)

    def decode(self, request: DecodeRequest, interrupted: Callable[[], bool] = lambda: False, poll: float = 0.1):
        """Rank 0's pixels (B, 3, F, H, W), the tiles decoded over the workers; interrupts as `denoise`."""
        return self._call("decode", request, interrupted, poll)

    def _call(self, method: str, request, interrupted: Callable[[], bool], poll: float):
        ray = _import_ray()
        self.start()
        refs = [getattr(a, method).remote(request) for a in self.actors]
        while True:
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=poll)
            try:  # a failed rank leaves the others waiting in a collective: stop them all
                ray.get(done)
            except Exception as error:
                self.shutdown()
                _reraise(error)
            if len(done) == len(refs):
                return ray.get(refs[0])
            if interrupted():
                self.shutdown()
                raise Interrupted()
            time.sleep(0)

    def shutdown(self) -> None:
        """Kills the actors (their GPU memory is freed with their processes)."""
        if self.actors is None:
            return
        ray = _import_ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors = None
