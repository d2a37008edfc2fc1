"""The streaming detokenizer against Python's own UTF-8 decoder.

The test server's tokenizer has one token per byte, so a token-id prompt is
any byte string; the instant backend echoes it token by token. Whatever the
bytes, the streamed text must equal bytes.decode("utf-8", errors="replace")
(the replacement rule HF tokenizers follow) and every chunk must be valid
UTF-8 on its own (json.loads would fail on a lone surrogate escape, and the
server writes raw UTF-8).
"""
import json
import random

import requests


def stream_text(server, token_ids):
    r = requests.post(server.url("/v1/completions"), stream=True, timeout=10, json={
        "prompt": token_ids, "max_tokens": len(token_ids), "stream": True})
    assert r.status_code == 200
    parts = []
    for line in r.iter_lines():
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        line.decode("utf-8")  # strict: every event is valid UTF-8
        obj = json.loads(line[6:])
        if obj["choices"]:
            parts.append(obj["choices"][0]["text"])
    return parts


def test_multibyte_characters_split_across_tokens(instant):
    data = "a€b😀c".encode()
    parts = stream_text(instant, list(data))
    assert "".join(parts) == "a€b😀c"
    assert "€" in parts and "😀" in parts  # emitted whole, never half


def test_random_bytes_match_python_replace(instant):
    rng = random.Random(7)
    for _ in range(25):
        n = rng.randint(1, 40)
        # Bias towards UTF-8 lead and continuation bytes so that many sequences are near-valid.
        data = bytes(rng.choice([rng.randint(0x80, 0xBF), rng.randint(0xC2, 0xF4), rng.randint(0x20, 0x7E),
                                 rng.randint(0, 255)]) for _ in range(n))
        expected = data.decode("utf-8", errors="replace")
        assert "".join(stream_text(instant, list(data))) == expected, data
        d = requests.post(instant.url("/detokenize"), json={"tokens": list(data)}, timeout=5).json()
        assert d["prompt"] == expected, data


def test_tokenize_is_utf8_bytes(instant):
    text = "héllo wörld ✓"
    t = requests.post(instant.url("/tokenize"), json={"prompt": text}, timeout=5).json()
    assert t["tokens"] == list(text.encode())
