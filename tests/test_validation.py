"""Numbers and arguments: `demo` and `generate` give the same one-line errors before any model loads,
generate() refuses the same values, NaN/Inf stop the run naming the stage, node schemas carry the same
limits, and audio-to-video keeps the user's audio as given."""

import ast
import importlib.util
import math
import os
import time

import av
import pytest
import torch

from ltx2_core import validation
from ltx2_core.__main__ import main
from ltx2_core.errors import InputError
from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components
from ltx2_core.pipeline.generate import generate
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams
from ltx2_core.pipeline.two_stage import AudioInput, VideoInput
from ltx2_core.validation import NonFiniteError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATE = ["generate", "--checkpoint", "ckpt.safetensors", "--text-encoder", "gemma", "--prompt", "p"]
MAX_SEED = 2**64 - 1

# (extra arguments, the one error line) shared by `demo` and `generate`.
SHARED = [
    (["--steps", "0"], "error: --steps 0 is invalid: use a whole number from 1 to 1000 (e.g. 30)."),
    (["--steps", "-2"], "error: --steps -2 is invalid: use a whole number from 1 to 1000 (e.g. 30)."),
    (["--seed", "-1"], f"error: --seed -1 is out of range: use a whole number from 0 to {MAX_SEED}."),
    (["--seed", str(2**64)], f"error: --seed {2**64} is out of range: use a whole number from 0 to {MAX_SEED}."),
    (["--fps", "0"], "error: --fps 0.0 is out of range: use a value from 1 to 240 such as 24 or 25."),
    (["--fps", "nan"], "error: --fps nan is out of range: use a value from 1 to 240 such as 24 or 25."),
    (["--width", "770"], "error: width 770 is not a multiple of 32: use a multiple of 32 such as 768 or 800."),
    (["--frames", "120"], "error: frames 120 is not of the form 8k+1: use 113 or 121."),
    (["--two-stage", "--width", "800"], "error: width 800 is not a multiple of 64"),
    (["--out", "clip.avi"], "error: --out 'clip.avi' cannot hold a video: use a file name ending in .mp4, .mkv or "
                            ".webm."),
    (["--out", "missing/clip.mp4"], "error: --out folder does not exist: "),
    (["--out", "folder.mp4"], "error: --out 'folder.mp4' is a folder: give a file name."),
]
GENERATE_ONLY = [
    (["--image", "key.png@3@1.5"], "error: --image strength 1.5 is out of range: use a value from 0 to 1"),
    (["--image", "key.png@-1"], "error: --image frame -1 is out of range: use 0..120."),
    (["--batch-size", "0"], "error: --batch-size 0 is invalid: use 1 or more."),
    (["--seed", str(MAX_SEED), "--batch-size", "2"], f"error: --seed {MAX_SEED} + 1 (the last clip of the batch)"),
    (["--video-cfg", "-1"], "error: --video-cfg -1.0 is out of range: use a value from 0 to 30 (1 = off)."),
    (["--audio-only"], "error: --out 'clip.mp4' cannot hold audio only: use a file name ending in .wav or .flac."),
    (["--out", "clip.wav"], "error: --out 'clip.wav' cannot hold a video: use a file name ending in .mp4, .mkv "
                            "or .webm."),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "key.png").write_bytes(b"not read before the checks")

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built before the arguments were checked")

    monkeypatch.setattr("ltx2_core.pipeline.demo.demo_components", no_model)
    return tmp_path


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("extra, expected", SHARED)
def test_demo_and_generate_give_the_same_one_line_error_before_loading(workdir, capsys, extra, expected):
    out = [] if "--out" in extra else ["--out", "clip.mp4"]
    start = time.perf_counter()
    assert main(["demo", *out, *extra]) == 2
    demo_error = _one_line(capsys)
    # generate's checkpoint does not exist: had the model loading started, that would be the error.
    assert main([*GENERATE, *out, *extra]) == 2
    assert time.perf_counter() - start < 5
    assert _one_line(capsys) == demo_error and demo_error.startswith(expected)
    assert sorted(os.listdir(workdir)) == ["folder.mp4", "key.png"]


@pytest.mark.parametrize("extra, expected", GENERATE_ONLY)
def test_generate_argument_errors_come_before_loading(workdir, capsys, extra, expected):
    out = [] if "--out" in extra else ["--out", "clip.mp4"]
    assert main([*GENERATE, *out, *extra]) == 2
    assert _one_line(capsys).startswith(expected)


def test_unwritable_output_folder(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: make the folder read-only for the check
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(locked) else real(path, mode))
    assert main(["demo", "--out", str(locked / "clip.mp4")]) == 2
    assert _one_line(capsys) == f"error: --out folder {str(locked)!r} is not writable: choose a folder you can write to."


def test_checks_accept_the_limits():
    assert validation.check_seed(0) == 0 and validation.check_seed(MAX_SEED) == MAX_SEED
    assert validation.check_seed(MAX_SEED - 3, count=4) == MAX_SEED - 3
    assert validation.check_steps(1) == 1 and validation.check_steps(None) is None
    assert validation.check_fps(1) == 1.0 and validation.check_strength(0) == 0.0
    assert validation.check_frame_index(-5, 5, negative=True) == -5
    with pytest.raises(InputError, match=r"frame index 5 is out of range: use 0..4 or -1..-5"):
        validation.check_frame_index(5, 5, negative=True)
    with pytest.raises(InputError, match="steps True is invalid"):
        validation.check_steps(True)
    validation.check_pixels(torch.tensor([-1.0, 1.0]))
    with pytest.raises(InputError, match=r"pixels span 0..255, outside -1..1: scale them to that range \(0..255"):
        validation.check_pixels(torch.tensor([0.0, 255.0]))
    with pytest.raises(InputError, match="NaN or Inf pixels"):
        validation.check_pixels(torch.tensor([0.0, math.inf]))


@pytest.fixture(scope="module")
def parts():
    return demo_components(seed=2, encoders=True)


SMALL = dict(width=64, height=64, frames=9, steps=1, seed=1, guidance=DEMO_GUIDANCE)


@pytest.mark.parametrize("change, message", [
    (dict(steps=0), "steps 0 is invalid"),
    (dict(seed=2**64), "seed 18446744073709551616 is out of range"),
    (dict(seed=-1), "seed -1 is out of range"),
    (dict(fps=0.0), "fps 0.0 is out of range"),
    (dict(images=[VideoInput(torch.full((3, 1, 64, 64), 200.0))]), r"images\[0\] pixels span 200..200"),
    (dict(images=[VideoInput(torch.zeros(3, 1, 64, 64), strength=1.5)]), r"images\[0\] strength 1.5 is out of range"),
    (dict(images=[VideoInput(torch.zeros(3, 1, 64, 64), frame_index=9)]),
     r"images\[0\] frame_index 9 is out of range: use 0..8"),
    (dict(guidance=Guidance(GuidanceParams(cfg=-1.0), GuidanceParams())), "video cfg -1.0 is out of range"),
    (dict(guidance=Guidance(GuidanceParams(), GuidanceParams(rescale=2.0))), "audio rescale 2.0 is out of range"),
    (dict(audio=AudioInput(torch.full((2, 8000), math.nan), 16000)), "NaN or Inf samples"),
    (dict(audio=AudioInput(torch.zeros(2, 8000), 0)), "sample rate 0 is invalid"),
])
def test_generate_api_refuses_the_same_values(parts, change, message):
    with pytest.raises(InputError, match=message):
        generate(parts, "a fox", **dict(SMALL, **change))


def _poison(module, value=math.nan):
    """Set the module's first floating weight to `value`; returns a function restoring it."""
    param = next(p for p in module.parameters() if p.ndim >= 2)
    saved = param.detach().clone()
    with torch.no_grad():
        param.fill_(value)

    def restore():
        with torch.no_grad():
            param.copy_(saved)

    return restore


def _expect_stage(parts, part, stage, value=math.nan, **kwargs):
    module = parts
    for name in part.split("."):
        module = getattr(module, name)
    restore = _poison(module, value)
    try:
        with pytest.raises(NonFiniteError) as caught:
            generate(parts, "a fox", **dict(SMALL, **kwargs))
    finally:
        restore()
    message = str(caught.value)
    assert message.startswith(stage) and "--dtype bfloat16" in message and "\n" not in message, message


def test_nan_and_inf_stop_at_the_stage_that_made_them(parts):
    _expect_stage(parts, "transformer", "Denoising step 1/2 (video latent): NaN/Inf values", steps=2)
    _expect_stage(parts, "video_vae.decoder", "Video decoding: NaN/Inf values", value=math.inf)
    _expect_stage(parts, "vocoder", "Audio decoding: NaN/Inf values")
    text = parts.text_encoder.encode(["a fox"])
    from ltx2_core.text.encoder import TextContext

    bad = TextContext(text.video.clone().fill_(math.nan), text.audio)
    with pytest.raises(NonFiniteError, match=r"^Text encoding \(video context\): NaN/Inf values"):
        generate(parts, "a fox", contexts=(bad, bad), **SMALL)
    clip = generate(parts, "a fox", **SMALL)  # restored weights: finite again
    assert torch.isfinite(clip.video).all() and torch.isfinite(clip.audio).all()


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    from ltx2_core.pipeline.demo import save_demo_checkpoint

    return save_demo_checkpoint(demo_components(encoders=True), str(tmp_path_factory.mktemp("models")))


def _run_cli(paths, out, *extra):
    return main(["generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"],
                 "--prompt", "a fox", "--out", str(out), "--width", "64", "--height", "64", "--frames", "17",
                 "--steps", "1", "--stg-blocks", "1", "--dtype", "float32", "--device", "cpu", *extra])


def test_cli_nan_weights_end_in_one_line_naming_the_stage(demo_files, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    from ltx2_core.checkpoint import read_metadata

    tensors = load_file(demo_files["checkpoint"])
    key = next(k for k in tensors if k.startswith("model.diffusion_model.proj_out.weight"))
    tensors[key] = torch.full_like(tensors[key], math.nan)
    broken = tmp_path / "broken.safetensors"
    save_file(tensors, str(broken), metadata=read_metadata(demo_files["checkpoint"]))
    out = tmp_path / "clip.mp4"
    assert _run_cli(dict(demo_files, checkpoint=str(broken)), out) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: Denoising step 1/1 (video latent): NaN/Inf values") and "--dtype bfloat16" in err
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["broken.safetensors"]


@pytest.mark.parametrize("rate, channels, seconds", [(44100, 1, 1.0), (48000, 2, 2.0), (22050, 2, 0.9)])
def test_audio_to_video_keeps_the_users_audio(demo_files, tmp_path, capsys, rate, channels, seconds):
    """The output's audio is the given file's, at its rate and channel count (AAC), cut to the clip's
    17 / 24 s (audio shorter than the clip is refused by the conditioning; the writer's padding is tested
    in test_outputs_atomic)."""
    from ltx2_core.pipeline.video_io import read_audio_as_given, write_wav

    t = torch.arange(round(seconds * rate)) / rate
    wave = torch.stack([torch.sin(2 * math.pi * f * t) * 0.5 for f in (440.0, 660.0)[:channels]])
    given = write_wav(str(tmp_path / "voice.wav"), wave, rate)
    out = tmp_path / "clip.mp4"
    assert _run_cli(demo_files, out, "--audio", given) == 0
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert (audio.codec_context.name, audio.codec_context.sample_rate, audio.codec_context.channels) == (
            "aac", rate, channels)
        assert abs(float(audio.duration * audio.time_base) - 17 / 24) <= 1e-3 + 1e-9
    back, back_rate = read_audio_as_given(str(out))
    assert back_rate == rate and back.shape[0] == channels
    target = round(17 / 24 * rate)
    kept = min(target, wave.shape[1])
    # AAC is lossy and delays by its priming: compare the waveform where both have signal.
    window = slice(2048, kept - 2048)
    error = (back[:, window] - wave[:, window]).abs().mean() / wave[:, window].abs().mean()
    assert error < 0.1, error


def _node_limits():
    """{(node_id, input name): (min, max)} from the io.*.Input calls of the node files."""
    spec = importlib.util.spec_from_file_location("ltx2_node_params", os.path.join(REPO, "nodes", "params.py"))
    params = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(params)
    names = {k: getattr(validation, k) for k in dir(validation) if k.isupper()}
    names["params"] = params
    limits = {}
    for name in ("sampling", "latent", "conditioning", "text", "decode"):
        tree = ast.parse(open(os.path.join(REPO, "nodes", name + ".py")).read())
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "Schema"):
                continue
            kw = {k.arg: k.value for k in call.keywords}
            for item in kw["inputs"].elts:
                if isinstance(item, ast.Starred):  # a helper's list of inputs (decode tiles: no core limits)
                    continue
                item_kw = {k.arg: k.value for k in item.keywords}
                if "min" in item_kw and item.args:
                    value = [eval(compile(ast.Expression(item_kw[k]), name, "eval"), names) if k in item_kw
                             else None for k in ("min", "max")]
                    limits[(kw["node_id"].value, item.args[0].value)] = tuple(value)
    return limits


def test_node_inputs_carry_the_core_limits():
    limits = _node_limits()
    expected = {
        ("LTX2Scheduler", "steps"): (1, validation.MAX_STEPS),
        ("LTX2Sampler", "seed"): (0, validation.SEED_LIMIT - 1),
        ("LTX2Guider", "video_cfg"): (0.0, validation.MAX_CFG),
        ("LTX2Guider", "audio_cfg"): (0.0, validation.MAX_CFG),
        ("LTX2Guider", "stg_scale"): (0.0, validation.MAX_GUIDANCE_SCALE),
        ("LTX2Guider", "modality_scale"): (0.0, validation.MAX_GUIDANCE_SCALE),
        ("LTX2Guider", "rescale"): (0.0, 1.0),
        ("LTX2EmptyAVLatent", "fps"): (validation.MIN_FPS, validation.MAX_FPS),
        ("LTX2ImageConditioning", "strength"): (0.0, 1.0),
        ("LTX2VideoContinuation", "strength"): (0.0, 1.0),
        ("LTX2ImageConditioning", "frame_index"): (-1025, 1024),
    }
    for key, value in expected.items():
        assert limits[key] == value, key
    assert limits[("LTX2EmptyAVLatent", "frames")] == (1, 1025)
