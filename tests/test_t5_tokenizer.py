"""T5 tokenizer: ids and masks identical to transformers' T5Tokenizer on a tiny trained sentencepiece model,
from spiece.model and from a tokenizers tokenizer.json (ComfyUI's format); clear message when none is found."""

import os

import pytest
import torch

from _t5_helpers import train_t5_spm
from ltx2_core.errors import CheckpointError
from ltx2_core.text.t5 import LEGACY_MAX_LENGTH, MAX_LENGTH, T5Tokenizer, host_tokenizer_file, load_t5_tokenizer

transformers = pytest.importorskip("transformers")
PROMPTS = ["A cat walks on the beach.", "  leading and trailing  ", "unseen wörds ½ 4096 ＡＢ", "x", "",
           "a <extra_id_0> b </s> c", "double  spaces here",
           "a very long prompt that will certainly need truncation at sixteen tokens because it is long"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    folder = tmp_path_factory.mktemp("t5tok")
    (folder / "spiece.model").write_bytes(train_t5_spm())
    reference = transformers.T5Tokenizer.from_pretrained(str(folder))
    json_folder = tmp_path_factory.mktemp("t5json")
    reference.save_pretrained(str(json_folder))
    (json_folder / "spiece.model").unlink(missing_ok=True)
    return folder, json_folder, reference


def _expected(reference, length):
    out = reference([p.strip() for p in PROMPTS], padding="max_length", max_length=length, truncation=True,
                    add_special_tokens=True, return_tensors="pt")
    return out.input_ids, out.attention_mask


@pytest.mark.parametrize("length", [16, 64])
def test_ids_and_mask_match_transformers(folders, length):
    folder, json_folder, reference = folders
    ids, mask = _expected(reference, length)
    assert (json_folder / "tokenizer.json").is_file()
    for tokenizer in (T5Tokenizer.from_file(str(folder)), T5Tokenizer.from_file(str(json_folder / "tokenizer.json"))):
        ours = tokenizer(PROMPTS, max_length=length)
        assert torch.equal(ours[0], ids) and torch.equal(ours[1], mask)
        assert tokenizer.vocab_size == reference.vocab_size
    assert ids[-1, -1].item() == 1 and mask[-1].sum().item() == length  # truncated row ends with EOS


def test_defaults_and_layout(folders, tmp_path):
    folder = folders[0]
    assert (MAX_LENGTH, LEGACY_MAX_LENGTH) == (256, 128)
    tokenizer = T5Tokenizer.from_file(str(folder))
    ids, mask = tokenizer("a cat")
    assert ids.shape == (1, 256) and mask[0].sum().item() == len(tokenizer.encode("a cat")) + 1
    pipeline = tmp_path / "pipe"
    (pipeline / "tokenizer").mkdir(parents=True)
    (pipeline / "text_encoder").mkdir()
    (pipeline / "tokenizer" / "spiece.model").write_bytes((folder / "spiece.model").read_bytes())
    found = load_t5_tokenizer(pipeline / "text_encoder", max_length=128)
    assert found.max_length == 128 and found("a cat")[0].tolist() == tokenizer("a cat", 128)[0].tolist()


def test_missing_tokenizer_names_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="spiece.model"):
        T5Tokenizer.from_file(str(tmp_path))
    with pytest.raises(CheckpointError, match="not a valid sentencepiece"):
        T5Tokenizer(b"junk")


def test_host_tokenizer_file(folders, tmp_path):
    _, json_folder, reference = folders
    assert host_tokenizer_file(tmp_path) is None
    target = tmp_path.joinpath("comfy", "text_encoders", "t5_tokenizer")
    target.mkdir(parents=True)
    (target / "tokenizer.json").write_bytes((json_folder / "tokenizer.json").read_bytes())
    found = host_tokenizer_file(tmp_path)
    assert found == str(target / "tokenizer.json")
    ids, mask = _expected(reference, 24)
    ours = load_t5_tokenizer(found)(PROMPTS, max_length=24)
    assert torch.equal(ours[0], ids) and torch.equal(ours[1], mask)


HOSTS = [p for p in (os.environ.get("COMFYUI_PATHS") or os.environ.get("COMFYUI_PATH") or "").split(os.pathsep)
         if p]


@pytest.mark.skipif(not HOSTS, reason="no ComfyUI host named by COMFYUI_PATHS")
@pytest.mark.parametrize("host", HOSTS)
def test_real_comfyui_t5_tokenizer_matches_transformers(host):
    path = host_tokenizer_file(host)
    assert path is not None, f"{host} ships no comfy/text_encoders/t5_tokenizer/tokenizer.json"
    reference = transformers.T5TokenizerFast(tokenizer_file=path)
    prompts = ["A woman walks along a beach at sunset, waves rolling in.", "Café crème — “quotes” ½ ＡＢＣ ①",
               "The camera pans; 1080p 60fps, 3:2!!", "a <extra_id_3> b", "tabs\tand\nnewlines"]
    expected = reference(prompts, padding="max_length", max_length=48, truncation=True, return_tensors="pt")
    ids, mask = T5Tokenizer.from_file(path)(prompts, max_length=48)
    assert torch.equal(ids, expected.input_ids) and torch.equal(mask, expected.attention_mask)
