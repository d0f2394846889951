"""Text generation with the loaded Gemma decoder (KV cache; greedy or temperature + top-p sampling).

Used for prompt enhancement: the user's prompt goes into a Gemma chat turn after a system prompt, and
the model's answer becomes the prompt that is encoded.
"""

from typing import Iterable, Optional

import torch

from ..errors import InputError
from .gemma import GemmaTextModel, KVCache
from .prompts import system_prompt
from .tokenizer import GemmaTokenizer


def _next_token(logits: torch.Tensor, temperature: float, top_p: float, generator) -> torch.Tensor:
    """logits (B, V) float32 -> (B,) token ids."""
    if temperature <= 0.0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass strictly before each token
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)  # keeps at least the top token
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate_ids(
    model: GemmaTextModel, input_ids: torch.Tensor, max_new_tokens: int, *, temperature: float = 0.0,
    top_p: float = 1.0, seed: Optional[int] = None, stop_ids: Optional[Iterable[int]] = None,
    vocab_limit: Optional[int] = None,
) -> torch.Tensor:
    """New token ids (1, N <= max_new_tokens) after `input_ids` (1, T); stops after a stop id (included).

    `vocab_limit` restricts the choice to ids below it: Gemma 3's embedding has more rows (262,208) than its
    tokenizer has pieces (262,144), and an id past the tokenizer could not be decoded.
    """
    if input_ids.ndim != 2 or input_ids.shape[0] != 1:
        raise InputError("generate_ids expects one prompt: input_ids of shape (1, T).")
    if max_new_tokens < 0:
        raise InputError("max_new_tokens must be >= 0.")
    device = next(model.parameters()).device
    stop = set(model.config.eos_token_ids if stop_ids is None else stop_ids)
    generator = None
    if temperature > 0.0:
        generator = torch.Generator(device=device)
        generator.manual_seed(0 if seed is None else int(seed))
    cache = KVCache(model.config.num_layers)
    step_input = input_ids.to(device)
    produced = []
    for _ in range(max_new_tokens):
        hidden = model(step_input, cache=cache, all_hidden_states=False)[0][:, -1]  # (1, hidden)
        logits = model.logits(hidden).float()[:, :vocab_limit]  # (1, V)
        token = _next_token(logits, temperature, top_p, generator)  # (1,)
        produced.append(int(token))
        if produced[-1] in stop:
            break
        step_input = token[:, None]
    return torch.tensor([produced], dtype=torch.long)


def generate(
    model: GemmaTextModel, tokenizer: GemmaTokenizer, prompt: str, max_new_tokens: int = 256, *,
    temperature: float = 0.0, top_p: float = 1.0, seed: Optional[int] = None,
) -> str:
    """Continue `prompt` (tokenized with BOS; chat markers in it are honoured) and return the new text."""
    ids = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long)
    new = generate_ids(
        model, ids, max_new_tokens, temperature=temperature, top_p=top_p, seed=seed, vocab_limit=tokenizer.vocab_size
    )
    return tokenizer.decode(new[0].tolist()).strip()


def chat_prompt(system: str, user: str) -> str:
    """Gemma 3's chat layout: the system text opens the first user turn, then the model turn starts."""
    return f"<start_of_turn>user\n{system.strip()}\n\n{user}<end_of_turn>\n<start_of_turn>model\n"


def enhance_prompt(
    model: GemmaTextModel, tokenizer: GemmaTokenizer, prompt: str, *, mode: str = "t2v",
    system: Optional[str] = None, max_new_tokens: int = 512, temperature: float = 0.7, top_p: float = 1.0,
    seed: int = 10,
) -> str:
    """Rewrite a short prompt into a detailed LTX-2 prompt (text-to-video `t2v` or image-to-video `i2v`).

    The image of i2v is not shown to the model (only the language tower is loaded): the i2v system prompt
    asks the model to keep to what the user says about it.
    """
    if not prompt.strip():
        raise InputError("The prompt to enhance is empty.")
    user = f"user prompt: {prompt.strip()}" if mode == "t2v" else f"User Raw Input Prompt: {prompt.strip()}."
    text = chat_prompt(system if system is not None else system_prompt(mode), user)
    enhanced = generate(model, tokenizer, text, max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    return enhanced or prompt.strip()
