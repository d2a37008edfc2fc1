"""Regexes and GBNF grammars against Python references.

(a) Masks: along random walks, the set of tokens the matcher allows equals, token by token, "the text
    stays a prefix of some match" as decided by the `regex` package's partial fullmatch (a separate
    implementation); stop ids are allowed exactly when the text is a complete match.
(b) Generated strings (random walks until a stop id) fullmatch Python's `re`.
Each random regex is also written as an equivalent GBNF grammar, checked the same way."""
import random
import re

import pytest

from grammar_driver import make_vocab, run_tool

regex_mod = pytest.importorskip("regex", reason="the regex package (a transformers dependency) is required")

ALPHABET = ["a", "b", "c", "é", "-", "x"]


def regex_vocab():
    toks = [c.encode() for c in ALPHABET + ["\n"]]
    toks += [(a + b).encode() for a in ALPHABET for b in ALPHABET]
    toks += [(a + b + c).encode() for a in "abc" for b in "abc" for c in "abc"]
    toks += [b"a\xc3", b"\xa9b"]  # halves of "é"
    # every byte >= 0x80 alone, as byte-level BPE vocabularies have, so any UTF-8 character can be written
    toks += [bytes([b]) for b in range(0x80, 0x100)]
    return make_vocab(toks)


def random_regex(rng, depth=0):
    """Returns (python regex, equivalent GBNF expression)."""
    k = rng.randrange(9 if depth < 3 else 4)
    if k == 0:
        c = rng.choice(ALPHABET)
        return re.escape(c), '"' + c + '"'
    if k == 1:
        cls = rng.choice(["[ab]", "[a-c]", "[^a]", "[xé-]", "[^-é]"])
        return cls, cls
    if k == 2:
        return ".", "[^\\n]"
    if k == 3:
        c = rng.choice("abc")
        return c, '"' + c + '"'
    if k in (4, 5):
        parts = [random_regex(rng, depth + 1) for _ in range(rng.randint(2, 3))]
        return "".join(p[0] for p in parts), " ".join(p[1] for p in parts)
    if k == 6:
        parts = [random_regex(rng, depth + 1) for _ in range(rng.randint(2, 3))]
        return "(?:" + "|".join(p[0] for p in parts) + ")", "(" + " | ".join(p[1] for p in parts) + ")"
    r, g = random_regex(rng, depth + 1)
    q = rng.choice(["?", "*", "+", "{2}", "{1,3}", "{0,2}", "{2,}"])
    return "(?:" + r + ")" + q, "(" + g + ")" + q


def viable(pattern, data: bytes) -> bool:
    """Whether data is a prefix of some string that fullmatches pattern (bytes, maybe ending mid-character)."""
    try:
        text = data.decode("utf-8")
        return regex_mod.fullmatch(pattern, text, partial=True) is not None
    except UnicodeDecodeError as e:
        if e.start < len(data) - 3 or e.reason != "unexpected end of data":
            return False
        # A trailing incomplete character: viable if some completion of it is.
        head = data[:e.start]
        lead = data[e.start:]
        need = 2 + (lead[0] >= 0xE0) + (lead[0] >= 0xF0) - len(lead)
        for cont in range(0x80, 0xC0):
            candidate = lead + bytes([cont]) + b"\x80" * (need - 1)
            try:
                if regex_mod.fullmatch(pattern, (head + candidate).decode("utf-8"), partial=True) is not None:
                    return True
            except UnicodeDecodeError:
                continue
        return False


def complete(pattern, data: bytes) -> bool:
    try:
        return regex_mod.fullmatch(pattern, data.decode("utf-8")) is not None
    except UnicodeDecodeError:
        return False


def check_masks(answer, pattern, vocab, stop):
    assert answer["ok"], answer
    tokens = [bytes.fromhex(t) for t in vocab["tokens_hex"]]
    special = set(vocab["special"])
    assert answer["steps"]
    for step in answer["steps"]:
        prefix = bytes.fromhex(step["prefix_hex"])
        allowed = set(step["allowed"])
        for t, tok in enumerate(tokens):
            if t == stop:
                expect = complete(pattern, prefix)
            elif t in special:
                expect = False
            else:
                expect = viable(pattern, prefix + tok)
            assert (t in allowed) == expect, f"{pattern!r}: token {tok!r} after {prefix!r}: matcher {t in allowed}"
        assert step["can_end"] == complete(pattern, prefix)


def cases(n, seed):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        r, g = random_regex(rng)
        out.append((r, "root ::= " + g + "\n"))
    return out


@pytest.mark.parametrize("pattern,grammar", cases(40, 1234))
def test_regex_and_gbnf_masks_match_the_partial_match_reference(pattern, grammar):
    vocab, stop = regex_vocab()
    for kind, text in (("regex", pattern), ("ebnf", grammar)):
        answer = run_tool({"kind": kind, "text": text, "mode": "masks", "n": 3, "max_tokens": 12, "seed": 5}, vocab)
        check_masks(answer, pattern, vocab, stop)


@pytest.mark.parametrize("pattern,grammar", cases(60, 99))
def test_generated_strings_fullmatch_python_re(pattern, grammar):
    vocab, _ = regex_vocab()
    for kind, text in (("regex", pattern), ("ebnf", grammar)):
        answer = run_tool({"kind": kind, "text": text, "n": 10, "max_tokens": 200, "seed": 11}, vocab)
        assert answer["ok"], answer
        ended = [o for o in answer["outputs"] if o["ended"]]
        assert ended, f"no walk ended for {pattern!r}"
        for o in ended:
            s = bytes.fromhex(o["hex"]).decode("utf-8")
            assert re.fullmatch(pattern, s), f"{kind} {text!r} produced {s!r}"


def test_fixed_regexes_with_escapes_and_classes():
    vocab, _ = regex_vocab()
    for pattern in [r"\d{3}-\d{4}", r"[A-Za-z_]\w*", r"(a|b)+\s?c", r"x{2,4}é*", r"[^abc]{1,3}"]:
        answer = run_tool({"kind": "regex", "text": pattern, "n": 10, "max_tokens": 50, "seed": 3},
                          make_vocab([bytes([b]) for b in range(32, 127)] + ["é".encode()])[0])
        assert answer["ok"], answer
        for o in answer["outputs"]:
            if o["ended"]:
                assert re.fullmatch(pattern, bytes.fromhex(o["hex"]).decode(), re.ASCII), (pattern, o)


def test_choice_outputs_are_options():
    vocab, _ = regex_vocab()
    options = ["abc", "ab", "x-é", "c"]
    answer = run_tool({"kind": "choice", "options": options, "n": 20, "seed": 2}, vocab)
    assert answer["ok"], answer
    got = {bytes.fromhex(o["hex"]).decode() for o in answer["outputs"] if o["ended"]}
    assert got and got <= set(options)


def test_errors_name_the_place():
    vocab, _ = regex_vocab()
    bad = run_tool({"kind": "regex", "text": "a(b"}, vocab)
    assert not bad["ok"] and "offset 3" in bad["error"]
    bad = run_tool({"kind": "ebnf", "text": 'root ::= "a" foo\n'}, vocab)
    assert not bad["ok"] and "'foo' is not defined" in bad["error"] and "line 1:14" in bad["error"]
    bad = run_tool({"kind": "ebnf", "text": 'root ::= root "a" | "b"\n'}, vocab)
    assert not bad["ok"] and "left-recursive" in bad["error"]
