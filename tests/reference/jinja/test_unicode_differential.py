"""Differential test of Python's str character model in templates: case mapping (str.upper /
lower / title / capitalize / swapcase / casefold and the upper / lower / title / capitalize
filters), the str.is* predicates, the `upper` / `lower` tests, `wordcount` (regex \\w) and
repr()'s printable test, rendered by Python jinja2 in HF's environment and by Tandem.

Two parts:
- text samples in many scripts (Greek with final sigma, Cyrillic, accented Latin, German sharp s,
  Turkish dotted I, ligatures, title-case digraphs, CJK, digits of other scripts), every
  method/filter/test applied, compared with jinja2 directly;
- a sweep over every code point of planes 0-3 and 14 (and the start of the others): case
  mappings and repr() rendered by jinja2 per chunk; the per-character predicates computed with
  the str methods jinja2 calls (jinja2 itself is too slow for 2M calls; `test_predicate_formula`
  checks on a sample that jinja2 renders exactly that formula).
"""
import pytest

import hf_reference
from jinja_driver import render_batch

SAMPLES = [
    "", "Hello World", "Hello world", "HeLLo", "ǅemal Ǆemal", "ǅ", "Σας Όλοι", "Ⅻ Ⅻi", "'Tis 1st Ok",
    "ΟΔΥΣΣΕΥΣ", "Ὀδυσσεύς", "ΣΑΣ ΣΑΣ.", "Σ", "ΑΣ", "ΑΣ'", "Α'Σ", "ΑΣ'Β", "ΑΣ.Β", "ΑΣ\u0301", "σς ΐ ΰ",
    "Привет, Мир! ЁЖИК ёжик Ѣѣ", "Élan vital à l'œuvre; ÀÉÎÕÜ àéîõü ÿŸ", "Straße STRASSE ß ẞ",
    "İstanbul ıi İI", "ﬁne ﬂow ﬀ ﬃ ﬆ", "ǅemal ǆ Ǆ ǈ ǋ ǲ", "ŉ ǰ ΐ ᾳ ᾼ ῳ ὒ", "ᾈᾀ ᾯ",
    "日本語テキスト、東京タワー", "한국어 텍스트", "ｆｕｌｌ ＷＩＤＴＨ ０１２", "٣٤٥ ४५६ ০১২ ๑๒๓ ²³ ½ Ⅻ ⅻ 一二三 〇",
    "Ⴀⴀ Ꭰꭰ ᏸ Ａａ 𐐀𐐨 𞤀𞤢", "Ǳ ǲ ǳ", "ʰᵃ ª º ⓐⒶ", "a\u0345b \u0345", "\u00a0\u2028\u3000\x1c\x85x",
    "hello-world (foo) {bar} [baz] <qux> ĳssel-ĲSSEL", "mIxEd ČáSé ȺȾ ⱥⱦ",
]

# What each sample goes through; one line per expression.
SAMPLE_EXPRESSIONS = [
    "s.upper()", "s.lower()", "s.title()", "s.capitalize()", "s.swapcase()", "s.casefold()",
    "s|upper", "s|lower", "s|title", "s|capitalize", "s|wordcount", "[s]",
    "s.isalpha()", "s.isalnum()", "s.isdigit()", "s.isdecimal()", "s.isnumeric()", "s.isspace()",
    "s.islower()", "s.isupper()", "s.istitle()", "s.isprintable()", "s is lower", "s is upper", "s.split()", "s.strip()",
]
SAMPLE_TEMPLATE = "\n".join("{{ " + e + " }}" for e in SAMPLE_EXPRESSIONS)

PREDICATES = ["isalpha", "isupper", "islower", "istitle", "isdigit", "isdecimal", "isnumeric", "isalnum", "isspace",
              "isprintable"]
PREDICATE_TEMPLATE = ("{% for c in s %}" + "".join("{{ c." + p + "()|int }}" for p in PREDICATES) +
                      "{{ (c is upper)|int }}{{ (c is lower)|int }}{{ c|wordcount }}|{% endfor %}")

MAPPING_TEMPLATE = "\n".join([
    "{{ s.upper() }}", "{{ s.lower() }}", "{{ s.title() }}", "{{ s.swapcase() }}", "{{ s.casefold() }}",
    "{{ s|upper }}", "{{ s|lower }}", "{{ s|title }}", "{{ s|capitalize }}",
    "{{ t.lower() }}", "{{ t.title() }}", "{{ t.capitalize() }}", "{{ t.swapcase() }}", "{{ chars }}",
])

CHUNK = 8192


def predicate_formula(s):
    """What PREDICATE_TEMPLATE renders, from the str methods jinja2 calls (re's \\w is isalnum or _)."""
    out = []
    for c in s:
        bits = [getattr(c, p)() for p in PREDICATES] + [c.isupper(), c.islower(), c.isalnum() or c == "_"]
        out.append("".join(str(int(b)) for b in bits) + "|")
    return "".join(out)


def sweep_code_points():
    cps = [cp for cp in range(0x40000) if not 0xD800 <= cp <= 0xDFFF]
    cps += list(range(0xE0000, 0xE1000))
    for plane in list(range(4, 14)) + [15, 16]:
        cps += list(range(plane << 16, (plane << 16) + 256))
    cps += [0xFFFFD, 0x10FFFD, 0x10FFFF]
    return cps


def chunks():
    cps = sweep_code_points()
    return ["".join(chr(c) for c in cps[i:i + CHUNK]) for i in range(0, len(cps), CHUNK)]


CHUNKS = chunks()


def mapping_context(chunk):
    # '|' is neither cased nor case-ignorable: each character of s is mapped on its own
    # (title and capitalize get the title-case mapping of every one); t keeps neighbours.
    return {"s": "|".join(chunk), "t": chunk, "chars": list(chunk[:2048])}


def mismatch_report(expected, got, label):
    bad = []
    for i, (e, g) in enumerate(zip(expected, got)):
        if e != g:
            bad.append(f"{label}[{i}]: jinja2 {e[:300]!r}\n  tandem {g[:300]!r}")
    return bad


def first_difference(a, b):
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"at {n}: jinja2 {a[max(0, n - 40):n + 40]!r} tandem {b[max(0, n - 40):n + 40]!r}"


def test_samples_agree_with_jinja2():
    expected = [hf_reference.render(SAMPLE_TEMPLATE, {"s": s}, hf=False) for s in SAMPLES]
    assert all(ok for ok, _ in expected)
    got = render_batch([{"template": SAMPLE_TEMPLATE, "context": {"s": s}, "hf": False} for s in SAMPLES])
    bad = []
    for s, (_, etext), (ok, text) in zip(SAMPLES, expected, got):
        if not ok or etext != text:
            for expr, e, g in zip(SAMPLE_EXPRESSIONS, etext.split("\n"), text.split("\n") if ok else [text]):
                if e != g:
                    bad.append(f"{s!r} {expr}: jinja2 {e!r} tandem {g!r}")
    assert not bad, f"{len(bad)} differ:\n" + "\n".join(bad[:30])


def test_samples_exercise_the_special_cases():
    """The samples reach what a table of 1:1 ASCII/Latin mappings would get wrong."""
    joined = "\n".join(hf_reference.render(SAMPLE_TEMPLATE, {"s": s}, hf=False)[1] for s in SAMPLES)
    for needle in ["ΟΔΥΣΣΕΥΣ".lower(), "STRASSE", "i\u0307stanbul", "FINE", "ʼN", "ǅemal ǅ Ǆ ǈ ǋ ǲ".title(),
                   "ᾈᾀ ᾯ".upper(), "\\u2028\\u3000\\x1c"]:
        assert needle in joined, needle
    assert "ὀδυσσεύς" in joined and "οδυσσευς" in joined  # final sigma at the end, not inside


def test_predicate_formula():
    sample = "".join(CHUNKS[0][i] for i in range(0, len(CHUNKS[0]), 7)) + SAMPLES[-8] + "_²½Ⅻ〇"
    ok, text = hf_reference.render(PREDICATE_TEMPLATE, {"s": sample}, hf=False)
    assert ok and text == predicate_formula(sample)


@pytest.fixture(scope="module")
def sweep():
    cases = []
    for chunk in CHUNKS:
        cases.append({"template": PREDICATE_TEMPLATE, "context": {"s": chunk}, "hf": False})
        cases.append({"template": MAPPING_TEMPLATE, "context": mapping_context(chunk), "hf": False})
    return render_batch(cases)


def test_sweep_predicates_agree(sweep):
    bad = []
    for i, chunk in enumerate(CHUNKS):
        ok, text = sweep[2 * i]
        expected = predicate_formula(chunk)
        if not ok or text != expected:
            got = text.split("|") if ok else [text]
            for c, e, g in zip(chunk, expected.split("|"), got):
                if e != g:
                    bad.append(f"U+{ord(c):04X} {'/'.join(PREDICATES)}/is upper/is lower/wordcount: "
                               f"python {e} tandem {g}")
    assert not bad, f"{len(bad)} code points differ:\n" + "\n".join(bad[:30])


def test_sweep_mappings_agree(sweep):
    bad = []
    for i, chunk in enumerate(CHUNKS):
        ok, etext = hf_reference.render(MAPPING_TEMPLATE, mapping_context(chunk), hf=False)
        assert ok, etext
        gok, text = sweep[2 * i + 1]
        if not gok:
            bad.append(f"chunk {i} (from U+{ord(chunk[0]):04X}): tandem failed: {text}")
            continue
        for line, (e, g) in enumerate(zip(etext.split("\n"), text.split("\n"))):
            if e != g:
                bad.append(f"chunk {i} (from U+{ord(chunk[0]):04X}) line {line + 1} of MAPPING_TEMPLATE: "
                           + first_difference(e, g))
    assert not bad, f"{len(bad)} differ:\n" + "\n".join(bad[:30])


def test_sweep_covers_the_case_tables():
    changed = sum(1 for chunk in CHUNKS for c in chunk if c.upper() != c or c.lower() != c or c.casefold() != c)
    assert changed > 2800, changed  # Unicode 14 has ~2900 code points with a case mapping
