"""Pad-free text encoding equals the padded 1024-token path (both feature-extractor versions, fp32 and fp64)."""

import pytest
import torch

from ltx2_core.text import (
    ConnectorConfig,
    EmbeddingsConnector,
    FeatureExtractorConfig,
    GemmaConfig,
    GemmaTextModel,
    GemmaTokenizer,
    TextEncoder,
    TextProjection,
)

pytest.importorskip("sentencepiece")

from test_text_tokenizer import train_tiny_spm  # noqa: E402

LENGTH = 1024  # the model's layout
GEMMA = GemmaConfig.tiny(num_layers=4, sliding_window=6, vocab_size=400)  # layers 0-1 sliding, 2 global
NUM_STATES = GEMMA.num_layers + 1
VERSIONS = {
    "ltx2": (FeatureExtractorConfig.ltx2(GEMMA.hidden_size, NUM_STATES),
             ConnectorConfig(heads=2, head_dim=16, num_layers=2, num_registers=8),
             ConnectorConfig(heads=2, head_dim=16, num_layers=2, num_registers=8)),
    "ltx23": (FeatureExtractorConfig.ltx23(GEMMA.hidden_size, NUM_STATES, video_dim=48, audio_dim=24),
              ConnectorConfig(heads=4, head_dim=12, num_layers=2, num_registers=8, gated=True),
              ConnectorConfig(heads=4, head_dim=6, num_layers=2, num_registers=8, gated=True)),
}
SHORT = "A red fox runs through snow at dawn."
LONG = "Video of a sunset over the ocean, waves crash on the rocks while a camera pans slowly left. " * 6
FULL = "The quick brown fox jumps over the lazy dog 12345. " * 120  # truncated: fills all 1024 positions
CASES = {"short": [SHORT], "long": [LONG], "empty": [""], "one_token": ["A"], "full": [FULL],
         "pos_neg": [LONG, "blurry, low quality"], "full_and_empty": [FULL, ""]}
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def randomized(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_((torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3
                     + (1.0 if p.ndim == 1 else 0.0)).to(p.dtype))
    return module


@pytest.fixture(scope="module")
def tokenizer():
    return GemmaTokenizer.from_bytes(train_tiny_spm())


def build(version, dtype, tokenizer):
    fe_cfg, v_cfg, a_cfg = VERSIONS[version]
    gemma = randomized(GemmaTextModel(GEMMA, dtype=dtype), 1)
    return TextEncoder(gemma, tokenizer, randomized(TextProjection(fe_cfg, dtype=dtype), 2),
                       randomized(EmbeddingsConnector(v_cfg, dtype=dtype), 3),
                       randomized(EmbeddingsConnector(a_cfg, dtype=dtype), 4), max_length=LENGTH).eval()


def max_rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture(scope="module", params=[(v, d) for v in VERSIONS for d in TOLERANCE],
                ids=lambda p: f"{p[0]}-{str(p[1])[6:]}")
def encoder(request, tokenizer):
    return build(*request.param, tokenizer)


@pytest.mark.parametrize("case", list(CASES))
def test_pad_free_equals_padded(encoder, case):
    prompts = CASES[case]
    dtype = encoder.gemma.embed_tokens.weight.dtype
    lengths = encoder.tokenize(prompts)[1].sum(dim=1)
    seen = []
    hook = encoder.gemma.embed_tokens.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    try:
        fast = encoder.encode_uncached(prompts)
        slow = encoder.encode_uncached(prompts, pad_free=False)
    finally:
        hook.remove()
    assert seen == [int(lengths.max()), LENGTH]  # Gemma ran over the longest prompt's tokens only
    assert fast.video.shape == slow.video.shape == (len(prompts), LENGTH, encoder.video_connector.config.width)
    assert fast.audio.shape == slow.audio.shape == (len(prompts), LENGTH, encoder.audio_connector.config.width)
    for a, b in ((fast.video, slow.video), (fast.audio, slow.audio)):
        assert max_rel(a, b) <= TOLERANCE[dtype], (case, max_rel(a, b))


def test_padding_contributes_nothing_to_the_padded_path(tokenizer):
    """Other pad-token ids change the padded path's pad hidden states but not one bit of its result."""
    encoder = build("ltx23", torch.float64, tokenizer)
    ids, mask = encoder.tokenize([SHORT, LONG])
    other = torch.randint(4, GEMMA.vocab_size, ids.shape, generator=torch.Generator().manual_seed(0))
    noisy = torch.where(mask.bool(), ids, other)
    with torch.no_grad():
        pads = ~mask.bool()
        clean_state = encoder.gemma(ids, mask)[-1]
        noisy_state = encoder.gemma(noisy, mask)[-1]
        assert (clean_state - noisy_state)[pads].abs().max() > 0.1  # pad positions do carry (different) content
        assert torch.equal(clean_state[~pads], noisy_state[~pads])
        outputs = []
        for token_ids in (ids, noisy):
            video, audio = encoder.features(token_ids, mask, pad_free=False)
            outputs.append((encoder.video_connector(video, mask), encoder.audio_connector(audio, mask)))
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])


def test_pad_free_flag_and_default(tokenizer):
    encoder = build("ltx2", torch.float32, tokenizer)
    assert encoder.pad_free
    ids, mask = encoder.tokenize(["", SHORT])
    video, audio = encoder.features(ids, mask)
    real = int(mask.sum(dim=1).max())
    assert torch.count_nonzero(video[:, : LENGTH - real]) == 0  # skipped columns come back as zeros
    assert torch.count_nonzero(video[1, LENGTH - real:]) > 0
    slow = TextEncoder(encoder.gemma, tokenizer, encoder.projection, encoder.video_connector, encoder.audio_connector,
                       max_length=LENGTH, pad_free=False)
    padded_video, _ = slow.features(ids, mask)
    assert torch.count_nonzero(padded_video[1, : LENGTH - real]) == 0  # v1 has no bias: zero at padding too
    assert max_rel(video[:, LENGTH - real:], padded_video[:, LENGTH - real:]) <= 1e-5


@pytest.mark.parametrize("start", [None, 0])
def test_gemma_over_the_cut_matches_padded_states(tokenizer, start):
    """Every hidden state of the real tokens, with the cut's padded-layout positions or positions from 0."""
    gemma = randomized(GemmaTextModel(GEMMA, dtype=torch.float64), 1)
    ids, mask = tokenizer([LONG, "a cat"], max_length=LENGTH)
    cut = LENGTH - int(mask.sum(dim=1).max())
    with torch.no_grad():
        padded = gemma(ids, mask)
        short = gemma(ids[:, cut:], mask[:, cut:], start_position=cut if start is None else start)
    keep = mask[:, cut:].bool()
    assert len(short) == NUM_STATES and short[0].shape[1] == LENGTH - cut < 300
    for full_state, cut_state in zip(padded, short, strict=True):
        assert max_rel(cut_state[keep], full_state[:, cut:][keep]) <= 1e-12
