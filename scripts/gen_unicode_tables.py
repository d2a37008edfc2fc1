#!/usr/bin/env python3
"""Generates src/text/unicode_tables.cpp and src/text/unicode_python_tables.cpp from Python's unicodedata.

The files are committed data (not vendored code). unicode_tables.cpp, the
Unicode model of the tokenizer: per code point, the general
category, the White_Space property and a "may change under NFC" flag, the
canonical combining class, the full canonical decompositions and the
canonical composition pairs that NFC uses. unicode_python_tables.cpp,
Python's str character model for the Jinja interpreter: the flags behind str.isdecimal / isdigit /
isnumeric / isspace / islower / isupper plus Cased and Case_Ignorable (final
sigma), and the full case mappings of str.upper / lower / title / casefold
(SpecialCasing's unconditional entries, up to 3 code points). Every value is
read from Python's own str methods, so the tables agree with the Python
whose jinja2 is the reference. Regenerate with

    python3 scripts/gen_unicode_tables.py src/text

and say which Python / Unicode version produced it in the commit.
"""
import pathlib
import sys
import unicodedata

MAX_CP = 0x110000
BLOCK = 256

# Order must match enum class GeneralCategory in src/text/unicode.h.
CATEGORIES = [
    "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
    "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
    "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co",
]
CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}

# PropList.txt White_Space (stable since Unicode 6.3); Python's str.isspace
# differs (it includes U+001C..U+001F), so the list is spelled out.
WHITE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680} | set(range(0x2000, 0x200B)) | {
    0x2028, 0x2029, 0x202F, 0x205F, 0x3000}

FLAG_WHITE_SPACE = 0x20
FLAG_NFC_MAYBE = 0x40  # the code point may change, or change its neighbour, under NFC

HANGUL_S_BASE, HANGUL_S_COUNT = 0xAC00, 11172

# Python str flags (kPython tables); bit order must match text/unicode.cpp.
PY_DECIMAL = 0x01         # str.isdecimal
PY_DIGIT = 0x02           # str.isdigit
PY_NUMERIC = 0x04         # str.isnumeric
PY_SPACE = 0x08           # str.isspace (includes U+001C..U+001F, unlike White_Space)
PY_LOWER = 0x10           # Lowercase property (str.islower of one character)
PY_UPPER = 0x20           # Uppercase property (str.isupper of one character)
PY_CASED = 0x40           # Cased property (str.title's "previous is cased")
PY_CASE_IGNORABLE = 0x80  # Case_Ignorable property (final sigma context)

# A case mapping longer than one code point is stored in kSpecialCasingPool
# and its table value is CASE_MULTI | length << 16 | offset.
CASE_MULTI = 0x80000000

ALPHA_CATEGORIES = {"Lu", "Ll", "Lt", "Lm", "Lo"}
UNPRINTABLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}


def canonical_decomposition(cp):
    d = unicodedata.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    return [int(x, 16) for x in d.split()]


def two_level(values, name, ctype):
    """Emits stage1 (block index per 256 code points) and stage2 (unique blocks)."""
    blocks = {}
    stage1 = []
    stage2 = []
    for start in range(0, MAX_CP, BLOCK):
        blk = tuple(values[start:start + BLOCK])
        if blk not in blocks:
            blocks[blk] = len(blocks)
            stage2.extend(blk)
        stage1.append(blocks[blk])
    out = []
    out.append(f"const uint16_t k{name}Stage1[{len(stage1)}] = {{")
    for i in range(0, len(stage1), 16):
        out.append("    " + ", ".join(str(x) for x in stage1[i:i + 16]) + ",")
    out.append("};")
    out.append(f"const {ctype} k{name}Stage2[{len(stage2)}] = {{")
    for i in range(0, len(stage2), 32):
        out.append("    " + ",".join(str(x) for x in stage2[i:i + 32]) + ",")
    out.append("};")
    return out


def code_point_array(name, values):
    """A char32_t array, 12 values a line."""
    out = [f"const char32_t {name}[{len(values)}] = {{"]
    for i in range(0, len(values), 12):
        out.append("    " + " ".join(f"0x{c:X}," for c in values[i:i + 12]))
    out.append("};")
    return out


def python_flags(cp):
    """Python's per-character flags, read from str methods (no UCD files needed).

    Cased and Case_Ignorable are not exposed by Python; they are read from
    str.title() and from str.lower()'s final-sigma rule, which use them."""
    ch = chr(cp)
    cat = unicodedata.category(ch)
    f = 0
    f |= PY_DECIMAL if ch.isdecimal() else 0
    f |= PY_DIGIT if ch.isdigit() else 0
    f |= PY_NUMERIC if ch.isnumeric() else 0
    f |= PY_SPACE if ch.isspace() else 0
    f |= PY_LOWER if ch.islower() else 0
    f |= PY_UPPER if ch.isupper() else 0
    cased = (ch + "a").title()[-1] == "a"
    assert cased == (ch.islower() or ch.isupper() or cat == "Lt"), hex(cp)
    f |= PY_CASED if cased else 0
    # U+03A3 lowers to final sigma when preceded (ignoring case-ignorables)
    # by a cased character and not followed by one.
    if cased:
        ignorable = (ch + "\u03a3").lower()[-1] == "\u03c3"
    else:
        ignorable = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"
    f |= PY_CASE_IGNORABLE if ignorable else 0
    # What text/unicode.cpp derives from the general category instead.
    assert ch.isalpha() == (cat in ALPHA_CATEGORIES), hex(cp)
    assert ch.isprintable() == (cp == 0x20 or cat not in UNPRINTABLE_CATEGORIES), hex(cp)
    title_char = not ("a" + ch).islower() and not ch.isupper()
    assert title_char == (cat == "Lt"), hex(cp)
    return f


def case_mappings():
    """[(cp, upper, lower, title, fold)] for every code point that any of them changes."""
    entries = []
    for cp in range(MAX_CP):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        m = (ch.upper(), ch.lower(), ch.title(), ch.casefold())
        if any(x != ch for x in m):
            assert all(1 <= len(x) <= 3 for x in m), hex(cp)
            entries.append((cp,) + m)
    return entries


def emit_case_mappings(out):
    pool = []
    rows = []
    for cp, *maps in case_mappings():
        values = []
        for m in maps:
            if len(m) == 1:
                values.append(ord(m))
            else:
                values.append(CASE_MULTI | len(m) << 16 | len(pool))
                pool.extend(ord(c) for c in m)
        rows.append((cp, values))
    assert len(pool) < 0x10000
    out.append(f"const CaseMappingEntry kCaseMappings[{len(rows)}] = {{")
    for i in range(0, len(rows), 3):
        out.append("    " + " ".join(
            f"{{0x{cp:X}, 0x{u:X}, 0x{lo:X}, 0x{t:X}, 0x{f:X}}}," for cp, (u, lo, t, f) in rows[i:i + 3]))
    out.append("};")
    out.append(f"const size_t kCaseMappingCount = {len(rows)};")
    out += code_point_array("kSpecialCasingPool", pool)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_unicode_tables.py OUT_DIR (src/text)")
    out_dir = pathlib.Path(sys.argv[1])
    props = [0] * MAX_CP
    ccc = [0] * MAX_CP
    decomp = {}
    pairs = {}
    seconds = set()
    for cp in range(MAX_CP):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        p = CAT_INDEX[cat]
        if cp in WHITE_SPACE:
            p |= FLAG_WHITE_SPACE
        ccc[cp] = unicodedata.combining(ch)
        if 0xD800 <= cp <= 0xDFFF:
            props[cp] = p
            continue
        is_hangul = HANGUL_S_BASE <= cp < HANGUL_S_BASE + HANGUL_S_COUNT
        d = canonical_decomposition(cp)
        if d is not None and not is_hangul:
            nfd = [ord(c) for c in unicodedata.normalize("NFD", ch)]
            decomp[cp] = nfd
            if len(d) == 2 and unicodedata.normalize("NFC", unicodedata.normalize("NFD", ch)) == ch:
                pairs[(d[0], d[1])] = cp
                seconds.add(d[1])
        props[cp] = p
    # Hangul jamo that compose algorithmically (V and T).
    seconds |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for cp in range(MAX_CP):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if ccc[cp] != 0 or cp in seconds or unicodedata.normalize("NFC", ch) != ch:
            props[cp] |= FLAG_NFC_MAYBE

    out = file_head()
    out.append(f'const char kUnicodeVersion[] = "{unicodedata.unidata_version}";')
    out += two_level(props, "Props", "uint8_t")
    out += two_level(ccc, "Ccc", "uint8_t")
    # Decompositions: sorted code points, offsets into a pool.
    keys = sorted(decomp)
    pool = []
    entries = []
    for cp in keys:
        entries.append((cp, len(pool), len(decomp[cp])))
        pool.extend(decomp[cp])
    out.append(f"const DecompositionEntry kDecompositions[{len(entries)}] = {{")
    for i in range(0, len(entries), 6):
        out.append("    " + " ".join(f"{{0x{c:X}, {o}, {n}}}," for c, o, n in entries[i:i + 6]))
    out.append("};")
    out.append(f"const size_t kDecompositionCount = {len(entries)};")
    out += code_point_array("kDecompositionPool", pool)
    comp = sorted(pairs.items())
    out.append(f"const CompositionEntry kCompositions[{len(comp)}] = {{")
    for i in range(0, len(comp), 4):
        out.append("    " + " ".join(f"{{0x{a:X}, 0x{b:X}, 0x{c:X}}}," for (a, b), c in comp[i:i + 4]))
    out.append("};")
    out.append(f"const size_t kCompositionCount = {len(comp)};")
    write(out_dir / "unicode_tables.cpp", out)

    out = file_head()
    py = [0] * MAX_CP
    for cp in range(MAX_CP):
        if not 0xD800 <= cp <= 0xDFFF:
            py[cp] = python_flags(cp)
    out += two_level(py, "Python", "uint8_t")
    emit_case_mappings(out)
    write(out_dir / "unicode_python_tables.cpp", out)


def file_head():
    return ["// GENERATED by scripts/gen_unicode_tables.py from Python "
            f"{sys.version.split()[0]} unicodedata (Unicode {unicodedata.unidata_version}).",
            "// Do not edit by hand. Layout: see src/text/unicode_tables.h.",
            "// clang-format off",
            '#include "text/unicode_tables.h"', "", "namespace tandem::text::unicode_data {", ""]


def write(path, lines):
    path.write_text("\n".join(lines + ["", "}  // namespace tandem::text::unicode_data"]) + "\n")


if __name__ == "__main__":
    main()
