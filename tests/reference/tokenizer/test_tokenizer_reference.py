"""Tandem's tokenizers against independent references on real vocabularies.

For each vocabulary (vocabularies.py): the >= 1 MB corpus (make_corpus.py) is
encoded line by line and as one document by tools/tokenize_cli and by the
reference (Hugging Face `tokenizers`; `sentencepiece` for GGUF SentencePiece
vocabularies), ids must be identical; decode() must match the reference and
round-trip; special tokens are honoured only when allowed; invalid UTF-8
becomes U+FFFD exactly as Python's decode("utf-8", "replace") does.
"""
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vocabularies  # noqa: E402

CLI = vocabularies.BUILD / "tests" / "tools" / "tokenize_cli"


def run_cli(*args):
    if not CLI.exists():
        pytest.fail(f"{CLI} is not built (ninja -C $TANDEM_BUILD_DIR tokenize_cli)")
    r = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"tokenize_cli {' '.join(map(str, args))} failed: {r.stderr}"
    return r


def read_ids(path):
    return [[int(x) for x in line.split()] for line in Path(path).read_text().splitlines()]


def encode_file(vocab, tmp_path, data: bytes, lines, add_special=False, allow_special=False, tag="in"):
    src = tmp_path / f"{tag}.txt"
    out = tmp_path / f"{tag}.ids"
    src.write_bytes(data)
    flags = []
    if lines:
        flags.append("--lines")
    if add_special:
        flags.append("--add-special")
    if allow_special:
        flags.append("--allow-special")
    run_cli("encode", vocab.tandem_path, src, out, *flags)
    return read_ids(out)


def decode_ids(vocab, tmp_path, seqs, skip_special):
    src = tmp_path / "dec.ids"
    out = tmp_path / "dec.hex"
    src.write_text("".join(" ".join(map(str, s)) + "\n" for s in seqs))
    run_cli("decode", vocab.tandem_path, src, out, *(["--skip-special"] if skip_special else []))
    return [bytes.fromhex(h).decode("utf-8") for h in out.read_text().splitlines()]


@pytest.fixture(scope="session")
def corpus():
    vocabularies.CACHE.mkdir(parents=True, exist_ok=True)
    path = vocabularies.CACHE / "corpus.txt"
    subprocess.run([sys.executable, str(Path(__file__).parent / "make_corpus.py"), str(path)], check=True)
    data = path.read_bytes()
    assert len(data) >= 1_000_000
    return data.decode("utf-8")


@pytest.fixture(scope="module", params=vocabularies.ALL)
def vocab(request):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    return vocabularies.load(request.param)


def first_mismatches(texts, got, want, limit=3):
    out = []
    for i, (t, g, w) in enumerate(zip(texts, got, want)):
        if g != w:
            k = next((j for j in range(min(len(g), len(w))) if g[j] != w[j]), min(len(g), len(w)))
            out.append(f"line {i}: {t[:80]!r}: first difference at token {k}: ours {g[k:k+6]} ref {w[k:k+6]}")
            if len(out) >= limit:
                break
    return out


def test_corpus_lines_identical(vocab, corpus, tmp_path):
    lines = corpus.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    ours = encode_file(vocab, tmp_path, corpus.encode("utf-8"), lines=True)
    ref = vocab.reference_encode(lines)
    assert len(ours) == len(ref) == len(lines)
    bad = sum(1 for a, b in zip(ours, ref) if a != b)
    assert bad == 0, f"{vocab.name}: {bad}/{len(lines)} lines differ:\n" + "\n".join(first_mismatches(lines, ours, ref))


@pytest.mark.parametrize("name", vocabularies.GGUF_BYTE_LEVEL)
def test_gguf_pre_mapping_matches_tokenizer_json(name, corpus, tmp_path):
    """tokenizer.ggml.pre "qwen2" / "llama-bpe" / "deepseek-v3" must split as the model's tokenizer.json."""
    vocab = vocabularies.load(name)
    lines = corpus.split("\n")[:-1]
    ours = encode_file(vocab, tmp_path, corpus.encode("utf-8"), lines=True, allow_special=True)
    vocab.hf.encode_special_tokens = False
    ref = [e.ids for e in vocab.hf.encode_batch(lines, add_special_tokens=False)]
    bad = sum(1 for a, b in zip(ours, ref) if a != b)
    assert len(ours) == len(ref) and bad == 0, "\n".join(first_mismatches(lines, ours, ref))


@pytest.mark.parametrize("variant", ["legacy", "split"])
def test_sentencepiece_json_forms(variant, corpus, tmp_path):
    """Prepend/Replace normalizer (a "▁" on every segment) and Metaspace(split=true, always)."""
    vocab = vocabularies.spm_json_variant(variant)
    lines = corpus.split("\n")[:-1][:2000]
    texts = lines + ["hello<s>world</s> again", "", "<s> x", " lead", "a  <unk>b"]
    data = "\n".join(texts).encode("utf-8")
    ours = encode_file(vocab, tmp_path, data, lines=True, allow_special=True, add_special=True)
    vocab.hf.encode_special_tokens = False
    ref = [e.ids for e in vocab.hf.encode_batch(texts, add_special_tokens=True)]
    bad = sum(1 for a, b in zip(ours, ref) if a != b)
    assert len(ours) == len(ref) and bad == 0, "\n".join(first_mismatches(texts, ours, ref))
    dec = decode_ids(vocab, tmp_path, ours[-5:], skip_special=False)
    assert dec == [vocab.hf.decode(x, skip_special_tokens=False) for x in ours[-5:]]


def test_corpus_document_identical_and_round_trips(vocab, corpus, tmp_path):
    ours = encode_file(vocab, tmp_path, corpus.encode("utf-8"), lines=False)[0]
    ref = vocab.reference_encode([corpus])[0]
    assert len(ours) > 100_000
    if ours != ref:
        k = next(j for j in range(min(len(ours), len(ref))) if ours[j] != ref[j])
        pytest.fail(f"{vocab.name}: document ids differ at token {k}/{len(ref)}: ours {ours[k:k+8]} ref {ref[k:k+8]}")
    # decode(encode(text)) matches the reference decoder on the same ids.
    decoded = decode_ids(vocab, tmp_path, [ours], skip_special=False)[0]
    assert decoded == vocab.reference_decode(ours, False)
    if vocab.name in ("llama3", "deepseek_v3"):
        assert decoded == corpus  # lossless vocabularies without a normalizer


def test_decode_random_ids_matches_reference(vocab, tmp_path):
    rng = random.Random(7)
    n = vocab.hf.get_vocab_size(with_added_tokens=True)
    specials = [vocab.hf.token_to_id(s) for s in vocabularies.special_strings(vocab.hf)]
    seqs = []
    for _ in range(300):
        seq = [rng.randrange(n) for _ in range(rng.randint(1, 40))]
        for _ in range(rng.randint(0, 3)):
            seq.insert(rng.randrange(len(seq) + 1), rng.choice(specials))
        seqs.append(seq)
    for skip in (False, True):
        ours = decode_ids(vocab, tmp_path, seqs, skip)
        refs = [vocab.reference_decode(s, skip) for s in seqs]
        bad = [(s, o, r) for s, o, r in zip(seqs, ours, refs) if o != r]
        assert not bad, f"{vocab.name} skip_special={skip}: {len(bad)} differ, first: {bad[0]}"


def test_special_tokens_only_when_allowed(vocab, tmp_path):
    specials = vocabularies.special_strings(vocab.hf)[:40]
    rng = random.Random(3)
    texts = []
    for i in range(200):
        parts = []
        for _ in range(rng.randint(1, 6)):
            parts.append(rng.choice(["hello", " world", "\r\t", " ", "x", "1234", "", "  "]))
            parts.append(rng.choice(specials))
        texts.append("".join(parts))
    data = "\n".join(texts).encode("utf-8")
    results = {}
    for allow in (False, True):
        ours = encode_file(vocab, tmp_path, data, lines=True, allow_special=allow, tag=f"sp{allow}")
        results[allow] = ours
        if vocab.sp is not None:
            # GGUF SentencePiece follows llama.cpp (a "▁" after every special
            # token), which no HF scheme does; sentencepiece itself never
            # matches control tokens. Check the plain-text tokens against it.
            if not allow:
                assert ours == vocab.reference_encode(texts)
            continue
        vocab.hf.encode_special_tokens = not allow
        ref = [e.ids for e in vocab.hf.encode_batch(texts, add_special_tokens=False)]
        assert ours == ref, "\n".join(first_mismatches(texts, ours, ref))
    special_ids = {vocab.hf.token_to_id(s) for s in specials}
    assert not any(i in special_ids for seq in results[False] for i in seq), "a control token leaked from plain text"
    assert sum(i in special_ids for seq in results[True] for i in seq) >= len(texts)


def test_add_special_matches_reference(vocab, tmp_path):
    texts = ["Hello world", "", " leading space", "<s> literal"]
    ours = encode_file(vocab, tmp_path, "\n".join(texts).encode(), lines=True, add_special=True)
    if vocab.sp is not None:
        ref = [list(x) for x in vocab.sp.encode(texts, add_bos=True)]
    else:
        vocab.hf.encode_special_tokens = True
        ref = [e.ids for e in vocab.hf.encode_batch(texts, add_special_tokens=True)]
        if vocab.name == "smollm2_gguf":
            pass  # the GGUF says add_bos_token = false, as the HF reference (no post-processor)
    assert ours == ref


INVALID_UTF8 = [
    b"abc\xffdef", b"\xfe\xfe", b"caf\xc3", b"\xe2\x82 euro", b"\xe2\x82\xac ok", b"\xf0\x9f\x98 emoji",
    b"\xf0\x9f\x98\x80 ok", b"overlong \xc0\xaf \xe0\x80\xaf", b"surrogate \xed\xa0\x80\xed\xbf\xbf",
    b"too big \xf4\x90\x80\x80 \xf5\x80", b"lone cont \x80\x80\xbf", b"\xc2", b"end\xe1\x80",
    b"mix \xc3\xa9\xff\xc3\xa9 \xe6\x97\xa5\xe6\x97", b"  \xff  \r\xfe\t",
]


def test_invalid_utf8_is_replaced_like_python(vocab, tmp_path):
    ours = encode_file(vocab, tmp_path, b"\n".join(INVALID_UTF8), lines=True)
    ref = vocab.reference_encode([raw.decode("utf-8", "replace") for raw in INVALID_UTF8])
    assert len(ours) == len(INVALID_UTF8)
    for raw, o, r in zip(INVALID_UTF8, ours, ref):
        assert o == r, f"{raw!r}: ours {o} ref {r}"


def gpt2_byte_decoder():
    """GPT-2's bytes_to_unicode, inverted (written from its definition)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def test_token_bytes_match_the_vocabulary_spelling(vocab, tmp_path):
    out = tmp_path / "tb.hex"
    run_cli("token-bytes", vocab.tandem_path, out)
    got = [bytes.fromhex(h) for h in out.read_text().splitlines()]
    dec = gpt2_byte_decoder()
    checked = 0
    for i in range(len(got)):
        text = vocab.hf.id_to_token(i)
        if text is None:
            continue
        if vocab.byte_level:
            want = bytes(dec[c] for c in text) if all(c in dec for c in text) else text.encode()
        elif len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            want = bytes([int(text[3:5], 16)])
        else:
            want = text.replace("\u2581", " ").encode()
        assert got[i] == want, f"{vocab.name} id {i} {text!r}: {got[i]!r} != {want!r}"
        checked += 1
    assert checked >= vocab.hf.get_vocab_size(with_added_tokens=False)
