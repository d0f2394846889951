"""LoRA parsing and merging, official (baked-in scale) and ComfyUI (alpha) formats."""

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError, InputError, UnsupportedFormatError
from ltx2_core.pipeline.lora import layer_deltas, load_lora, merge_loras, parse_lora


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer_blocks = torch.nn.ModuleList([torch.nn.Module()])
        self.transformer_blocks[0].attn1 = torch.nn.Module()
        self.transformer_blocks[0].attn1.to_q = torch.nn.Linear(6, 4)
        self.proj_out = torch.nn.Linear(4, 3)


def _official(gen, rank=2):
    return {
        "diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.randn(rank, 6, generator=gen),
        "diffusion_model.transformer_blocks.0.attn1.to_q.lora_B.weight": torch.randn(4, rank, generator=gen),
    }


def test_official_format_merges_without_alpha_scaling(tmp_path):
    gen = torch.Generator().manual_seed(0)
    model, sd = _Tiny(), _official(gen)
    before = model.transformer_blocks[0].attn1.to_q.weight.detach().clone()
    path = str(tmp_path / "lora.safetensors")
    save_file(sd, path)
    merged = merge_loras(model, [(load_lora(path), 0.5)])
    a = sd["diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight"]
    b = sd["diffusion_model.transformer_blocks.0.attn1.to_q.lora_B.weight"]
    assert merged == 1
    torch.testing.assert_close(model.transformer_blocks[0].attn1.to_q.weight, before + 0.5 * b @ a)


def test_comfy_alpha_format_scales_by_alpha_over_rank_and_loras_sum():
    gen = torch.Generator().manual_seed(1)
    down, up = torch.randn(4, 4, generator=gen), torch.randn(3, 4, generator=gen)
    comfy = {"diffusion_model.proj_out.lora_down.weight": down, "diffusion_model.proj_out.lora_up.weight": up,
             "diffusion_model.proj_out.alpha": torch.tensor(2.0)}
    official = _official(gen)
    deltas = layer_deltas([(parse_lora(comfy), 1.5), (parse_lora(official), 1.0), (parse_lora(official), 1.0)])
    torch.testing.assert_close(deltas["proj_out"], 1.5 * (2.0 / 4) * up @ down)
    a = official["diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight"]
    b = official["diffusion_model.transformer_blocks.0.attn1.to_q.lora_B.weight"]
    torch.testing.assert_close(deltas["transformer_blocks.0.attn1.to_q"], 2 * b @ a)


def test_bad_loras_give_clear_errors(tmp_path):
    gen = torch.Generator().manual_seed(2)
    with pytest.raises(CheckpointError, match="not a LoRA"):
        parse_lora({"foo.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="incomplete"):
        parse_lora({"x.lora_A.weight": torch.zeros(2, 3)})
    wrong = {"diffusion_model.nope.lora_A.weight": torch.zeros(2, 6),
             "diffusion_model.nope.lora_B.weight": torch.zeros(4, 2)}
    with pytest.raises(CheckpointError, match="another model"):
        merge_loras(_Tiny(), [(parse_lora(wrong), 1.0)])
    with pytest.raises(InputError, match="not found"):
        load_lora(str(tmp_path / "missing.safetensors"))
    model = _Tiny().to(torch.float8_e4m3fn)
    with pytest.raises(UnsupportedFormatError, match="layer_deltas"):
        merge_loras(model, [(parse_lora(_official(gen)), 1.0)])
