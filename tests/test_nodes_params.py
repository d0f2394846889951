"""Host-free helpers of the node layer (nodes/params.py) and their JavaScript mirror (web/ltx2_math.js)."""

import importlib.util
import json
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_params():
    # nodes/__init__.py needs ComfyUI; params.py is standalone, so load it by path.
    spec = importlib.util.spec_from_file_location("ltx2_node_params", os.path.join(REPO, "nodes", "params.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


params = load_params()
CASES = [(768, 512, 121, 24.0), (1280, 704, 97, 25.0), (64, 64, 9, 24.0), (512, 320, 241, 30.0), (96, 32, 1, 8.0)]


def test_frames_from_seconds():
    assert params.frames_from_seconds(5.0, 24.0) == 121
    assert params.frames_from_seconds(4.0, 25.0) == 97
    assert params.frames_from_seconds(0.0, 24.0) == 1
    assert params.frames_from_seconds(0.1, 24.0) == 1
    assert params.frames_from_seconds(0.2, 24.0) == 9
    for seconds in (0.5, 1.0, 3.3, 10.0):
        frames = params.frames_from_seconds(seconds, 24.0)
        assert (frames - 1) % 8 == 0 and abs(frames - 1 - seconds * 24) <= 4


def test_token_counts_match_reference_numbers():
    # 768x512x121 at 24 fps: 16 x 16 x 24 video tokens, round(121 / 24 * 25) = 126 audio tokens.
    assert params.token_counts(768, 512, 121, 24.0) == {"video": 6144, "audio": 126, "latent_frames": 16}
    assert params.token_counts(768, 512, 121, 25.0)["audio"] == 121


def test_size_problems_name_the_fix():
    assert params.size_problems(768, 512, 121) == []
    problems = params.size_problems(700, 512, 120)
    assert problems == ["width 700 is not a multiple of 32 (use 672 or 704)", "frames 120 is not 8k+1 (use 113 or 121)"]
    assert params.size_problems(16, 64, 9) == ["width 16 is not a multiple of 32 (use 32 or 64)"]


def test_activation_estimate_scales_with_tokens_and_passes():
    one = params.activation_gib(768, 512, 121, 24.0)
    assert one == pytest.approx((6144 * 4096 + 126 * 2048) * 2 * 12 / 2**30)
    assert params.activation_gib(768, 512, 121, 24.0, passes=4) == pytest.approx(4 * one)
    assert params.activation_gib(768, 512, 121, 24.0, batch=2) == pytest.approx(2 * one)


def test_model_file_listing_and_resolution(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "sub").mkdir(parents=True)
    second.mkdir()
    (first / "x.safetensors").write_bytes(b"1")
    (first / "sub" / "y.gguf").write_bytes(b"1")
    (first / "notes.txt").write_bytes(b"1")
    (second / "x.safetensors").write_bytes(b"2")
    (second / ".hidden").mkdir()
    (second / ".hidden" / "z.safetensors").write_bytes(b"1")
    dirs = [str(first), str(second), str(tmp_path / "missing")]
    assert params.list_model_files(dirs, (".safetensors", ".gguf")) == ["sub/y.gguf", "x.safetensors"]
    assert params.resolve_model_file(dirs, "x.safetensors") == str(first / "x.safetensors")
    assert params.resolve_model_file(dirs, "sub/y.gguf") == str(first / "sub" / "y.gguf")
    assert params.resolve_model_file(dirs, "../a/x.safetensors") is None
    assert params.resolve_model_file(dirs, str(first / "x.safetensors")) is None
    assert params.resolve_model_file(dirs, "nope.safetensors") is None


@pytest.mark.skipif(shutil.which("node") is None, reason="node (Node.js) is not installed")
def test_javascript_mirror_agrees():
    script = f"""
import * as m from {json.dumps(os.path.join(REPO, "web", "ltx2_math.js"))};
const cases = {json.dumps(CASES)};
const out = cases.map(([w, h, f, fps]) => ({{
  tokens: m.tokenCounts(w, h, f, fps), problems: m.sizeProblems(w + 8, h, f + 1),
  act: m.activationGiB(w, h, f, fps, 2, 4), frames: [0.2, 1, 2.5, 5, 7.3].map((s) => m.framesFromSeconds(s, fps)),
}}));
console.log(JSON.stringify(out));
"""
    result = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    for (w, h, f, fps), js in zip(CASES, json.loads(result.stdout)):
        assert js["tokens"] == params.token_counts(w, h, f, fps)
        assert js["problems"] == params.size_problems(w + 8, h, f + 1)
        assert js["act"] == pytest.approx(params.activation_gib(w, h, f, fps, 2, 4), rel=1e-12)
        assert js["frames"] == [params.frames_from_seconds(s, fps) for s in (0.2, 1, 2.5, 5, 7.3)]


def test_guider_streams_give_each_stream_its_own_cfg():
    from ltx2_core.pipeline.guidance import Guidance, GuidanceParams

    streams = params.guider_streams(video_cfg=3.0, audio_cfg=7.0, stg_scale=1.5, stg_blocks=[28, 29],
                                    modality_scale=2.5, rescale=0.7)
    shared = dict(stg=1.5, stg_blocks=(28, 29), rescale=0.7, modality=2.5)
    assert streams == {"video": dict(cfg=3.0, **shared), "audio": dict(cfg=7.0, **shared)}
    guidance = Guidance(**{stream: GuidanceParams(**fields) for stream, fields in streams.items()})
    assert (guidance.video.cfg, guidance.audio.cfg) == (3.0, 7.0)


def _guider_execute():
    import ast

    tree = ast.parse(open(os.path.join(REPO, "nodes", "sampling.py")).read())
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "LTX2Guider")
    schema = next(f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "define_schema")
    execute = next(f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "execute")
    inputs = [c.args[0].value for c in ast.walk(schema) if isinstance(c, ast.Call)
              and getattr(c.func, "attr", None) == "Input"]
    call = next(c for c in ast.walk(execute) if isinstance(c, ast.Call)
                and getattr(c.func, "attr", None) == "guider_streams")
    return inputs, [a.arg for a in execute.args.args[1:]], call


def test_guider_node_passes_every_input_to_the_stream_of_its_name():
    """The node's execute hands each schema input, by its own name, to `guider_streams` (a video/audio CFG
    swap in the node is a wrong keyword here, or a wrong dict in `guider_streams` above)."""
    import ast

    inputs, arguments, call = _guider_execute()
    assert inputs == arguments == ["video_cfg", "audio_cfg", "stg_scale", "stg_blocks", "modality_scale", "rescale"]
    assert not call.args and sorted(k.arg for k in call.keywords) == sorted(inputs)
    for keyword in call.keywords:
        value = keyword.value
        if keyword.arg == "stg_blocks":  # parsed from its text first
            assert isinstance(value, ast.Call) and value.func.id == "parse_blocks"
            value = value.args[0]
        assert isinstance(value, ast.Name) and value.id == keyword.arg, ast.unparse(keyword)
