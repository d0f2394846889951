"""Fixtures: a real ComfyUI server per host (see comfy_server.py) with tiny synthetic weights in its models folder.

Every test that uses `comfy` (or a fixture built on it) runs once per host in COMFYUI_PATHS, with the host's
version in the test id (`[comfyui-0.8.0-...]`). Without a host every integration test is skipped with the
reason. When LTX2_EXPECTED_HOSTS names versions (scripts/test.sh sets it to the hosts it built), the run fails
if one of them is missing or if any integration test skipped.
"""

import os
import shutil

import pytest

from comfy_server import comfy_host, host_paths, host_version, make_base, start_server, stop_server

HOST_PATHS = host_paths()


def host_id(path):
    return f"comfyui-{host_version(path)}"


@pytest.fixture(scope="session", params=HOST_PATHS or [None], ids=[host_id(p) for p in HOST_PATHS] or ["no-host"])
def comfy(request):
    return comfy_host(request.param)


@pytest.fixture(scope="session")
def synthetic_files(tmp_path_factory):
    """Tiny synthetic weights and inputs, written once: (root with models/ and input/, files, error)."""
    root = str(tmp_path_factory.mktemp("synthetic"))
    try:
        import synthetic_weights

        files = synthetic_weights.write_models(os.path.join(root, "models"), os.path.join(root, "input"))
        return root, files, None
    except Exception as exc:  # reported by the tests that need weights
        return root, {}, f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def synthetic_models(comfy, synthetic_files, tmp_path_factory):
    """This host's base directory with a copy of the synthetic weights: (base, files, error)."""
    root, files, error = synthetic_files
    base = make_base(tmp_path_factory.mktemp(f"comfy_base_{comfy.version}"))
    for folder in ("models", "input"):
        if os.path.isdir(os.path.join(root, folder)):
            shutil.copytree(os.path.join(root, folder), os.path.join(base, folder), dirs_exist_ok=True)
    return base, {role: os.path.join(base, os.path.relpath(path, root)) for role, path in files.items()}, error


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


def expected_host_problems(skipped_reports):
    """Why the run must fail although its tests passed: an expected host missing, or integration skips."""
    expected = os.environ.get("LTX2_EXPECTED_HOSTS", "").split()
    if not expected:
        return []
    found = {host_version(p) for p in HOST_PATHS}
    problems = [f"ComfyUI {v} was expected (LTX2_EXPECTED_HOSTS) but is not in COMFYUI_PATHS"
                for v in expected if v.lstrip("v") not in found]
    for report in skipped_reports:
        if "integration/" in report.nodeid.replace(os.sep, "/"):
            reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            problems.append(f"{report.nodeid} skipped although a host was expected: {reason}")
    return problems


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    problems = expected_host_problems(skipped)
    if problems:
        for line in problems:
            if reporter is not None:
                reporter.write_line(f"FAIL (expected host): {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
