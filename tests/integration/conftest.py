"""Fixtures: a real ComfyUI server (see comfy_server.py) with tiny synthetic weights in its models folder.

Without COMFYUI_PATH (or with an unusable one) every integration test is skipped with the reason.
"""

import os

import pytest

from comfy_server import comfy_host, make_base, start_server, stop_server


@pytest.fixture(scope="session")
def comfy():
    return comfy_host()


@pytest.fixture(scope="session")
def synthetic_models(comfy, tmp_path_factory):
    """The base directory with tiny synthetic weights, or the reason they could not be written."""
    base = make_base(tmp_path_factory.mktemp("comfy_base"))
    try:
        import synthetic_weights

        files = synthetic_weights.write_models(os.path.join(base, "models"), os.path.join(base, "input"))
        return base, files, None
    except Exception as exc:  # reported by the tests that need weights
        return base, {}, f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def server(comfy, synthetic_models):
    base = synthetic_models[0]
    srv = start_server(*comfy, base)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def object_info(server):
    return server.get("/object_info")


@pytest.fixture
def models(synthetic_models):
    base, files, error = synthetic_models
    if error is not None:
        pytest.fail(f"could not write the synthetic models: {error}")
    return files
