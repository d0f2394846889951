"""Ray workers (`ltx2_core.parallel.ray_pool`): 2 CPU actors load the transformer from its file, run the guided
denoise with sequence parallelism, return the one-process latents; reused between calls; an interrupt
shuts them down and the next call starts fresh ones; the VAE decode's tiles shared over them equal the
one-process tiled decode."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.parallel import selfcheck
from ltx2_core.pipeline.component_files import load_transformer_file
from ltx2_core.pipeline.demo import export_demo

ray = pytest.importorskip("ray", reason="ray is optional (requirements-dev.txt installs it for CI)")

from ltx2_core.parallel.ray_pool import Interrupted, RayPool  # noqa: E402
from ltx2_core.parallel.worker import WorkerSpec  # noqa: E402


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    checkpoint = export_demo(str(tmp_path_factory.mktemp("ray_models")))["checkpoint"]
    pool = RayPool(2, WorkerSpec(checkpoint, mode="sp+fsdp", device="cpu", dtype="float32"))
    yield pool
    pool.shutdown()
    ray.shutdown()


def test_workers_match_one_process_are_reused_and_stop_on_interrupt(pool):
    model = load_transformer_file(pool.spec.checkpoint, [], torch.float32, "cpu")
    request = selfcheck.make_request(model.config, selfcheck.Case(), torch.float32)
    assert request.video.latent.shape[1] == 25  # 20 generated + 5 keyframe tokens: odd
    expected = selfcheck.run_request(model, request)
    video, audio = pool.denoise(request)
    assert selfcheck.max_rel(video, expected.video) <= 1e-5 and selfcheck.max_rel(audio, expected.audio) <= 1e-5
    actors = list(pool.actors)
    again, _ = pool.denoise(request)
    assert pool.actors == actors and torch.equal(again, video)  # the same workers, the same answer
    with pytest.raises(Interrupted):
        pool.denoise(request, interrupted=lambda: True, poll=0.0)
    assert not pool.running
    fresh, _ = pool.denoise(request)
    assert torch.equal(fresh, video) and pool.actors != actors


def test_workers_decode_the_tiles_of_the_one_process_tiled_decode(pool):
    from ltx2_core.parallel.vae_decode import decode_plan
    from ltx2_core.parallel.worker import DecodeRequest
    from ltx2_core.video_vae import TilingConfig, load_video_vae

    vae = load_video_vae(pool.spec.checkpoint, dtype=torch.float32, components=("decoder",))
    latent = torch.randn(1, vae.latent_channels, 4, 1, 6, generator=torch.Generator().manual_seed(3))
    tiling = TilingConfig(64, 32, 16, 8)
    assert len(decode_plan(latent.shape, tiling, 8, 32)[0]) == 15  # 3 chunks x 5 tiles: odd
    with torch.no_grad():
        expected = vae.decode(latent, tiling=tiling, generator=torch.Generator().manual_seed(0))
    pixels = pool.decode(DecodeRequest(pool.spec.checkpoint, latent, tiling))
    assert pixels.shape == expected.shape == (1, 3, 25, 32, 192)
    assert selfcheck.max_rel(pixels, expected) <= 1e-5
    with pytest.raises(InputError, match=r"^The video VAE was not found: '/nonexistent/vae.safetensors'\.") as error:
        pool.decode(DecodeRequest("/nonexistent/vae.safetensors", latent, tiling))
    assert "\n" not in str(error.value) and not pool.running  # a failed worker stops the pool
