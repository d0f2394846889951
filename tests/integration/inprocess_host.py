"""Boots ComfyUI inside the current (ComfyUI venv) process without the server and imports this pack into it,
for the in-process scripts (inprocess_nodes.py, inprocess_checks.py). Import it before anything else."""

import importlib.util
import sys


def boot(comfy_dir: str, pack_dir: str, models_dir: str):
    """ComfyUI on the CPU with the synthetic model folders registered; returns the imported pack module
    (registered as `ltx2pack`, so `from ltx2pack.nodes import ...` works)."""
    sys.path.insert(0, comfy_dir)
    sys.argv = [sys.argv[0], "--cpu"]
    import utils.install_util  # noqa: F401  (ComfyUI's own `utils` package must win over others)
    import comfy.options

    comfy.options.enable_args_parsing()
    import folder_paths

    for folder in ("checkpoints", "diffusion_models", "text_encoders", "vae", "loras"):
        folder_paths.add_model_folder_path(folder, f"{models_dir}/{folder}", is_default=True)
    spec = importlib.util.spec_from_file_location("ltx2pack", f"{pack_dir}/__init__.py",
                                                  submodule_search_locations=[pack_dir])
    pack = importlib.util.module_from_spec(spec)
    sys.modules["ltx2pack"] = pack
    spec.loader.exec_module(pack)
    return pack


def result(node_output):
    """The output values of a V3 node's execute()."""
    return node_output.args


def error_of(run):
    """None when run() succeeds, else "ErrorType: message" (the in-process reports name each error)."""
    try:
        run()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
