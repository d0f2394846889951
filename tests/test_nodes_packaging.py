"""Pack entry, registry metadata and node declarations, checked without ComfyUI."""

import ast
import importlib.util
import os
import sys
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_FILES = ("loaders", "text", "latent", "conditioning", "sampling", "decode", "speed", "parallel")
# Node files named otherwise, in the categories of the shared ones (LTX-Video nodes; reference control).
LTXV_NODE_FILES = {"ltxv": "LTX2/loaders", "ltxv_sampling": "LTX2/sampling", "reference": "LTX2/conditioning",
                   "ltx25": "LTX2/loaders", "video_to_audio": "LTX2/conditioning",
                   "long": "LTX2/conditioning"}


def test_pack_entry_outside_comfyui_registers_nothing():
    assert "comfy_api" not in sys.modules
    spec = importlib.util.spec_from_file_location("comfyui_ltx2_pack", os.path.join(REPO, "__init__.py"),
                                                  submodule_search_locations=[REPO])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.NODE_CLASS_MAPPINGS == {} and module.NODE_DISPLAY_NAME_MAPPINGS == {}
    assert os.path.isfile(os.path.join(REPO, module.WEB_DIRECTORY, "ltx2_latent.js"))
    assert "torch" not in module.__dict__


def test_pyproject_matches_requirements():
    project = tomllib.load(open(os.path.join(REPO, "pyproject.toml"), "rb"))
    deps = project["project"]["dependencies"]
    lines = [l.strip() for l in open(os.path.join(REPO, "requirements.txt")) if l.strip() and not l.startswith("#")]
    assert sorted(deps) == sorted(lines)
    assert set(deps) == {"torch", "safetensors", "einops", "numpy", "gguf", "sentencepiece", "tokenizers", "av"}
    assert project["project"]["name"] == "comfyui-ltx2"
    assert project["project"]["optional-dependencies"]["test"] == ["pytest"]
    comfy = project["tool"]["comfy"]
    for field in ("PublisherId", "DisplayName", "Icon", "includes"):
        assert comfy[field], field
    assert all(os.path.exists(os.path.join(REPO, p)) for p in comfy["includes"])


def schemas():
    """(node_id, category, inputs without tooltip) of every io.Schema(...) call in nodes/*.py."""
    found = []
    trees = {name: ast.parse(open(os.path.join(REPO, "nodes", name + ".py")).read())
             for name in NODE_FILES + tuple(LTXV_NODE_FILES)}
    # Inputs built by a module-level helper of any node file (also `*helper()` lists) count as tooltipped when
    # every `.Input(...)` call in the helper passes a tooltip.
    helpers = {f.name for tree in trees.values() for f in tree.body if isinstance(f, ast.FunctionDef)
               and all(any(k.arg == "tooltip" for k in c.keywords) for c in ast.walk(f)
                       if isinstance(c, ast.Call) and getattr(c.func, "attr", None) == "Input")
               and "tooltip=" in ast.unparse(f)}
    for name, tree in trees.items():
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "Schema":
                kw = {k.arg: k.value for k in call.keywords}
                node_id = kw["node_id"].value
                category = kw["category"].id if isinstance(kw["category"], ast.Name) else kw["category"].value
                untipped = []
                for item in kw["inputs"].elts:
                    item = item.value if isinstance(item, ast.Starred) else item
                    args = {k.arg for k in item.keywords}
                    if isinstance(item.func, ast.Name) and item.func.id in helpers:
                        continue
                    if "tooltip" not in args:
                        untipped.append(ast.unparse(item)[:60])
                found.append((node_id, name, category, untipped))
    return found


def test_every_node_id_prefixed_tooltipped_and_registered():
    found = schemas()
    init = ast.parse(open(os.path.join(REPO, "nodes", "__init__.py")).read())
    listed = next(n for n in init.body if isinstance(n, ast.Assign) and n.targets[0].id == "NODE_CLASSES")
    registered = {e.attr for e in listed.value.elts}
    assert {node_id for node_id, *_ in found} == registered
    for node_id, module, category, untipped in found:
        assert node_id.startswith("LTX2"), node_id
        assert not untipped, (node_id, untipped)
    categories = {}
    for name in NODE_FILES:
        tree = ast.parse(open(os.path.join(REPO, "nodes", name + ".py")).read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and node.targets[0].id == "CATEGORY":
                categories[name] = node.value.value
    assert all(value == f"LTX2/{name}" for name, value in categories.items()), categories
    assert len(categories) == len(NODE_FILES)
    for node_id, module, category, _ in found:
        if module in LTXV_NODE_FILES:
            assert category in ("CATEGORY", LTXV_NODE_FILES[module]), (node_id, category)


def test_nodes_use_only_stable_comfy_surface():
    allowed = {"comfy.model_management", "comfy.cli_args", "comfy.model_patcher", "comfy.ops", "comfy.utils",
               "folder_paths", "comfy_api.latest"}
    for name in os.listdir(os.path.join(REPO, "nodes")):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(REPO, "nodes", name)).read())
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            for module in modules:
                if module.split(".")[0] in ("comfy", "comfy_api", "folder_paths", "nodes", "comfy_extras",
                                            "latent_preview", "node_helpers"):
                    assert module in allowed, f"nodes/{name} imports {module}"
