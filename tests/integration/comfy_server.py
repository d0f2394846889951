"""Starting, driving and stopping a real ComfyUI server with this pack installed (integration tests).

Hosts: COMFYUI_PATHS, an os.pathsep-separated list of ComfyUI checkouts (what `bash scripts/test.sh` exports
after building them with `scripts/setup_comfyui.sh <tag>` under .comfyui/<tag>/ComfyUI); the single
COMFYUI_PATH is still accepted. Each host runs with COMFYUI_PYTHON, else <checkout>/../venv/bin/python.
Without a usable host every test here is skipped with the reason. The server runs on 127.0.0.1 with
--cpu and a temporary --base-directory whose custom_nodes/ holds only this pack (a symlink) and whose
models/ holds tiny synthetic weights written in the official file formats.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import List, NamedTuple, Optional

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETUP_HINT = ("run `bash scripts/setup_comfyui.sh v0.3.64` (or v0.8.0) and set "
              "COMFYUI_PATHS=$PWD/.comfyui/v0.3.64/ComfyUI")
START_TIMEOUT_S = 90


class Host(NamedTuple):
    """One ComfyUI checkout and the Python that runs it."""

    path: str
    python: str

    @property
    def version(self) -> str:
        return host_version(self.path)


def host_paths() -> List[str]:
    """The ComfyUI checkouts named by COMFYUI_PATHS (or COMFYUI_PATH), in order, without duplicates."""
    raw = os.environ.get("COMFYUI_PATHS") or os.environ.get("COMFYUI_PATH") or ""
    paths = []
    for path in raw.split(os.pathsep):
        if path and os.path.abspath(path) not in paths:
            paths.append(os.path.abspath(path))
    return paths


def host_version(path: str) -> str:
    """The ComfyUI version of a checkout (its comfyui_version.py), or 'unknown'."""
    try:
        with open(os.path.join(path, "comfyui_version.py")) as handle:
            match = re.search(r'__version__\s*=\s*"([^"]+)"', handle.read())
    except OSError:
        return "unknown"
    return match[1] if match else "unknown"


def comfy_host(path: Optional[str]) -> Host:
    """The Host at `path`, or raise pytest.skip with the reason."""
    if not path:
        pytest.skip(f"COMFYUI_PATHS is not set: {SETUP_HINT} to run the ComfyUI integration tests.")
    if not os.path.isfile(os.path.join(path, "main.py")) or not os.path.isdir(os.path.join(path, "comfy_api")):
        pytest.skip(f"{path} is not a ComfyUI checkout with comfy_api (no main.py/comfy_api): {SETUP_HINT}.")
    python = os.environ.get("COMFYUI_PYTHON") or os.path.join(os.path.dirname(path), "venv", "bin", "python")
    if not os.path.isfile(python):
        pytest.skip(f"No Python for ComfyUI at {python}: set COMFYUI_PYTHON or {SETUP_HINT}.")
    probe = subprocess.run([python, "-c", "import torch, aiohttp, av"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"{python} cannot run ComfyUI ({probe.stderr.strip().splitlines()[-1:]}): {SETUP_HINT}.")
    return Host(path, python)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """HTTP client for one running server."""

    def __init__(self, url, base, process, log_path):
        self.url, self.base, self.process, self.log_path = url, base, process, log_path
        self.client_id = uuid.uuid4().hex

    def log(self) -> str:
        with open(self.log_path, errors="replace") as handle:
            return handle.read()

    def get(self, route):
        with urllib.request.urlopen(self.url + route, timeout=30) as response:
            return json.loads(response.read())

    def post(self, route, payload=None):
        data = json.dumps(payload if payload is not None else {}).encode()
        request = urllib.request.Request(self.url + route, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
                return response.status, json.loads(body) if body else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def queue(self, prompt) -> str:
        status, body = self.post("/prompt", {"prompt": prompt, "client_id": self.client_id})
        assert status == 200, f"/prompt rejected the workflow: {json.dumps(body, indent=1)[:3000]}"
        return body["prompt_id"]

    def wait(self, prompt_id, timeout=240.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}")
            if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                entry = history[prompt_id]
                if entry["status"].get("status_str") in ("success", "error"):
                    return entry
            if self.process.poll() is not None:
                raise AssertionError(f"ComfyUI exited (code {self.process.returncode}):\n{self.log()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"prompt {prompt_id} did not finish in {timeout} s:\n{self.log()[-4000:]}")

    def run(self, prompt, timeout=240.0) -> dict:
        entry = self.wait(self.queue(prompt), timeout)
        assert entry["status"]["status_str"] == "success", (
            f"workflow failed: {json.dumps(entry['status'], indent=1)[:4000]}\n{self.log()[-3000:]}"
        )
        return entry


def run_inprocess(script: str, comfy, synthetic_models, timeout: int = 300) -> dict:
    """Runs tests/integration/<script> in the host's Python (it boots ComfyUI in-process, see inprocess_host.py)
    on the synthetic models; returns the JSON report it prints last."""
    comfy_dir, python = comfy
    env = dict(os.environ, OMP_NUM_THREADS="2")
    run = subprocess.run([python, os.path.join(REPO, "tests", "integration", script), comfy_dir, REPO,
                          os.path.join(synthetic_models[0], "models")], capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def start_server(comfy_dir, python, base, extra_args=()):
    port = free_port()
    log_path = os.path.join(base, "server.log")
    args = [python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--base-directory", base,
            "--disable-auto-launch", "--database-url", "sqlite:///:memory:", *extra_args]
    # MKL picks kernels by memory alignment unless told not to: bit-exact comparisons between runs need this.
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
               MKL_CBWR=os.environ.get("MKL_CBWR", "COMPATIBLE"))
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, cwd=comfy_dir, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = ComfyServer(f"http://127.0.0.1:{port}", base, process, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ComfyUI exited at start (code {process.returncode}):\n{server.log()[-4000:]}")
        try:
            server.get("/system_stats")
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.25)
    stop_server(server)
    raise RuntimeError(f"ComfyUI did not answer within {START_TIMEOUT_S} s:\n{server.log()[-4000:]}")


def stop_server(server):
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def make_base(tmp_root):
    """A --base-directory with only this pack in custom_nodes and an (empty) models tree."""
    base = str(tmp_root)
    os.makedirs(os.path.join(base, "custom_nodes"), exist_ok=True)
    os.symlink(REPO, os.path.join(base, "custom_nodes", "comfyui-ltx2"))
    for folder in ("checkpoints", "diffusion_models", "text_encoders", "vae", "loras", "latent_upscale_models"):
        os.makedirs(os.path.join(base, "models", folder), exist_ok=True)
    for folder in ("input", "output", "user", "temp"):
        os.makedirs(os.path.join(base, folder), exist_ok=True)
    return base


def clear_outputs(server):
    shutil.rmtree(os.path.join(server.base, "output"), ignore_errors=True)
    os.makedirs(os.path.join(server.base, "output"), exist_ok=True)
