"""Generation with a KV cache: greedy output equals transformers' greedy generate; seeded sampling; enhancement."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.text import GemmaConfig, GemmaTextModel, GemmaTokenizer, enhance_prompt, generate, generate_ids
from ltx2_core.text.generate import chat_prompt
from ltx2_core.text.prompts import I2V_SYSTEM_PROMPT, T2V_SYSTEM_PROMPT, system_prompt

transformers = pytest.importorskip("transformers")

from test_gemma_model import hf_config  # noqa: E402
from test_text_tokenizer import train_tiny_spm  # noqa: E402

CFG = GemmaConfig.tiny(num_layers=3, sliding_window=5, vocab_size=400)


def models(seed=0):
    from transformers import Gemma3ForCausalLM

    torch.manual_seed(seed)
    oracle = Gemma3ForCausalLM(hf_config(CFG)).eval()
    with torch.no_grad():
        for name, p in oracle.named_parameters():
            if "norm" in name:
                p.normal_(0.0, 0.3)
        oracle.model.embed_tokens.weight.mul_(3.0)  # sharper logits: no near-ties for argmax
    ours = GemmaTextModel(CFG)
    ours.load_state_dict(oracle.model.state_dict())
    return ours, oracle


def test_greedy_matches_transformers_generate():
    ours, oracle = models()
    assert oracle.lm_head.weight.data_ptr() == oracle.model.embed_tokens.weight.data_ptr()  # tied head
    ids = torch.tensor([[2, 17, 99, 250, 31, 8, 77]])
    mine = generate_ids(ours, ids, 12, stop_ids=())
    ref = oracle.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                          eos_token_id=None, pad_token_id=0)[:, ids.shape[1]:]
    assert mine.shape == (1, 12)  # longer than the sliding window of 5: the cache path crosses it
    assert len(set(mine[0].tolist())) >= 3  # not a degenerate repetition
    assert torch.equal(mine, ref), (mine, ref)


def test_stop_token_and_sampling_are_seeded():
    ours, _ = models(1)
    ids = torch.tensor([[2, 5, 6, 7]])
    greedy = generate_ids(ours, ids, 6, stop_ids=())
    first = int(greedy[0, 0])
    stopped = generate_ids(ours, ids, 6, stop_ids=(first,))
    assert stopped.tolist() == [[first]]
    a = generate_ids(ours, ids, 8, temperature=1.5, top_p=0.9, seed=4, stop_ids=())
    b = generate_ids(ours, ids, 8, temperature=1.5, top_p=0.9, seed=4, stop_ids=())
    c = generate_ids(ours, ids, 8, temperature=1.5, top_p=0.9, seed=5, stop_ids=())
    assert torch.equal(a, b) and not torch.equal(a, c)
    tiny_p = generate_ids(ours, ids, 6, temperature=1.0, top_p=1e-6, seed=9, stop_ids=())
    assert torch.equal(tiny_p, greedy)  # top-p keeps only the most likely token
    with pytest.raises(InputError):
        generate_ids(ours, torch.zeros(2, 3, dtype=torch.long), 2)


def test_enhance_prompt_builds_a_chat_turn():
    ours, _ = models(2)
    tok = GemmaTokenizer.from_bytes(train_tiny_spm())
    text = chat_prompt(T2V_SYSTEM_PROMPT, "user prompt: a cat")
    ids = tok.encode(text)
    start, end = tok.processor.piece_to_id("<start_of_turn>"), tok.processor.piece_to_id("<end_of_turn>")
    assert ids[:2] == [2, start] and ids.count(start) == 2 and ids.count(end) == 1
    out = enhance_prompt(ours, tok, "a cat", max_new_tokens=5, seed=3)
    assert isinstance(out, str) and out
    assert out == enhance_prompt(ours, tok, "a cat", max_new_tokens=5, seed=3)
    assert generate(ours, tok, "a cat", 4) == generate(ours, tok, "a cat", 4)
    assert system_prompt("i2v") is I2V_SYSTEM_PROMPT
    with pytest.raises(InputError, match="t2v"):
        system_prompt("v2v")
    with pytest.raises(InputError, match="empty"):
        enhance_prompt(ours, tok, "   ")


def test_system_prompts_are_our_own_words():
    from pathlib import Path

    ltx_core = pytest.importorskip("ltx_core")
    folder = Path(ltx_core.__file__).parent / "text_encoders" / "gemma" / "encoders" / "prompts"
    pairs = ((T2V_SYSTEM_PROMPT, "gemma_t2v_system_prompt.txt"), (I2V_SYSTEM_PROMPT, "gemma_i2v_system_prompt.txt"))
    for ours, name in pairs:
        official = (folder / name).read_text()
        words = official.split()
        shared = {" ".join(words[i:i + 8]) for i in range(len(words) - 7)} & {
            " ".join(ours.split()[i:i + 8]) for i in range(len(ours.split()) - 7)}
        assert not shared, shared  # no 8-word run copied


def test_generation_never_picks_ids_past_the_tokenizer():
    tok = GemmaTokenizer.from_bytes(train_tiny_spm())
    rows = tok.vocab_size + 16  # like Gemma 3: more embedding rows than tokenizer pieces
    torch.manual_seed(3)
    ours = GemmaTextModel(GemmaConfig.tiny(num_layers=2, sliding_window=5, vocab_size=rows))
    ids = torch.tensor([tok.encode("a cat")])
    with torch.no_grad():
        last_hidden = ours(ids, all_hidden_states=False)[0][0, -1]
        ours.embed_tokens.weight[rows - 1] = last_hidden * 1e3  # the tied head now favours the last row
    assert int(generate_ids(ours, ids, 1, stop_ids=())[0, 0]) == rows - 1
    limited = generate_ids(ours, ids, 1, stop_ids=(), vocab_limit=tok.vocab_size)
    assert int(limited[0, 0]) < tok.vocab_size
    assert isinstance(generate(ours, tok, "a cat", 3), str)  # decodes without "piece id is out of range"
