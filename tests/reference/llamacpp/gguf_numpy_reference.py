"""An exact (float64) Llama forward pass over a GGUF file, for the CPU runner's tests.

Independent of Tandem's code: the weights come from the `gguf` PyPI package
(its own reader and dequantizers), the math is written here with numpy from
the model formulas, and RoPE is applied the way llama.cpp does for `llama`
GGUF files (adjacent pairs on the file's permuted Q/K rows), so it does not
share the loader's un-permutation either. Only Llama-architecture GGUF files
(such as the demo SmolLM2) are supported.
"""
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


class GgufReference:
    def __init__(self, path):
        r = GGUFReader(path)

        def field(name):
            f = r.fields[name]
            return f.parts[f.data[0]][0]

        arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
        if arch != "llama":
            raise ValueError(f"GgufReference supports llama GGUF files, not {arch}")
        self.n_layers = int(field("llama.block_count"))
        self.hidden = int(field("llama.embedding_length"))
        self.n_heads = int(field("llama.attention.head_count"))
        self.n_kv_heads = int(field("llama.attention.head_count_kv"))
        self.head_dim = self.hidden // self.n_heads
        self.eps = float(field("llama.attention.layer_norm_rms_epsilon"))
        self.theta = float(field("llama.rope.freq_base")) if "llama.rope.freq_base" in r.fields else 10000.0
        self.w = {}
        for t in r.tensors:
            a = dequantize(t.data, t.tensor_type).astype(np.float64)
            self.w[t.name] = a.reshape([int(x) for x in reversed(t.shape)])
        self.out = self.w.get("output.weight", self.w["token_embd.weight"])
        self.vocab = self.out.shape[0]

    def _rms(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def _rope(self, x, pos):
        """llama.cpp's normal RoPE: pairs (x[2i], x[2i+1]) rotated by pos * theta^(-2i/d)."""
        i = np.arange(self.head_dim // 2)
        ang = pos[:, None] * self.theta ** (-2.0 * i / self.head_dim)
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    def new_cache(self):
        return [([], []) for _ in range(self.n_layers)]

    def forward(self, ids, cache):
        """Logits [len(ids), vocab] for `ids` following the positions already in `cache`."""
        n, hd, nh, nkv = len(ids), self.head_dim, self.n_heads, self.n_kv_heads
        start = sum(k.shape[0] for k in cache[0][0])
        pos = np.arange(start, start + n, dtype=np.float64)
        x = self.w["token_embd.weight"][ids]
        mask = np.triu(np.full((n, start + n), -np.inf), start + 1)
        for l in range(self.n_layers):
            p = f"blk.{l}."
            xn = self._rms(x, self.w[p + "attn_norm.weight"])
            q = self._rope((xn @ self.w[p + "attn_q.weight"].T).reshape(n, nh, hd), pos)
            k = self._rope((xn @ self.w[p + "attn_k.weight"].T).reshape(n, nkv, hd), pos)
            v = (xn @ self.w[p + "attn_v.weight"].T).reshape(n, nkv, hd)
            cache[l][0].append(k)
            cache[l][1].append(v)
            K = np.repeat(np.concatenate(cache[l][0]), nh // nkv, axis=1)
            V = np.repeat(np.concatenate(cache[l][1]), nh // nkv, axis=1)
            s = np.einsum("qhd,khd->hqk", q, K) / np.sqrt(hd) + mask[None]
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            x = x + np.einsum("hqk,khd->qhd", s, V).reshape(n, self.hidden) @ self.w[p + "attn_output.weight"].T
            xn = self._rms(x, self.w[p + "ffn_norm.weight"])
            g = xn @ self.w[p + "ffn_gate.weight"].T
            u = xn @ self.w[p + "ffn_up.weight"].T
            x = x + (g / (1.0 + np.exp(-g)) * u) @ self.w[p + "ffn_down.weight"].T
        return self._rms(x, self.w["output_norm.weight"]) @ self.out.T

    def greedy(self, ids, n_new):
        """Logits at every prompt position and of each continuation step, and the greedy tokens."""
        cache = self.new_cache()
        rows = [self.forward(list(ids), cache)]
        gen = [int(np.argmax(rows[0][-1]))]
        while len(gen) < n_new:
            rows.append(self.forward([gen[-1]], cache))
            gen.append(int(np.argmax(rows[-1][-1])))
        return np.concatenate(rows[:n_new]), gen
