"""Differential test: seeded random templates (expressions, filters, tests, methods, statements)
rendered by Python jinja2 in HF's environment and by Tandem must agree: same output when jinja2
renders, an error when jinja2 raises (with the same message for runtime errors)."""
import random

import pytest

import hf_reference
from jinja_driver import render_batch

CONTEXT = {
    "messages": [
        {"role": "system", "content": "Be nice."},
        {"role": "user", "content": "Hi \"you\"\n"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
    ],
    "d": {"b": 2, "a": 1, "z": [1, 2]},
    "nums": [3, 1, 2, 2],
    "words": ["b", "A", "c"],
    "s": "  Hello, World é  ",
    "n": None,
    "t": True,
    "f": 2.5,
    "i": 7,
    "e": [],
}

ATOMS = ["1", "0", "-3", "2.5", "0.1", "1e3", "'a'", "'Hello'", "''", "'x y  z'", "'é日'", "none", "true",
         "false", "[]", "[1, 2]", "['b', 'a']", "{}", "{'k': 'v', 'a': 1}", "(1, 'a')", "messages", "d", "nums",
         "words", "s", "n", "t", "f", "i", "e", "missing", "messages[0]", "messages[-1].content", "d.a", "d['z']",
         "nums[1:]", "nums[::-1]", "s[2:7]", "d.missing", "nums[9]", "messages[2].tool_calls[0].function"]
BINOPS = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"]
FILTERS = ["length", "count", "upper", "lower", "title", "capitalize", "trim", "string", "list", "first",
           "last", "reverse|list", "sort", "unique|list", "tojson", "tojson(indent=2)", "int", "float", "abs",
           "round", "default('D')", "d(5, true)", "join(',')", "join", "items|list", "dictsort", "sum", "min",
           "max", "wordcount", "indent(2)", "replace('l', 'L')", "select('odd')|list", "reject('none')|list",
           "map('string')|list", "map(attribute='role')|list", "selectattr('role', 'equalto', 'user')|list",
           "center(9)", "e", "batch(2)|list", "format(1)", "trim('xH ')", "truncate(9, true)"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable",
         "sequence", "boolean", "true", "false", "odd", "even", "divisibleby(2)", "eq 1", "in [1, 'a']",
         "lower", "upper", "callable"]
METHODS = ["upper()", "lower()", "strip()", "split()", "split(',')", "startswith('H')", "endswith(' ')",
           "replace(' ', '_')", "find('o')", "title()", "get('a')", "get('q', 0)", "items()", "keys()",
           "values()", "count(2)", "index(1)", "rstrip('  ')", "lstrip()", "format(1)", "join(['p', 'q'])"]


def expr(rng, depth=0):
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return rng.choice(ATOMS)
    if roll < 0.5:
        return f"({expr(rng, depth + 1)} {rng.choice(BINOPS)} {expr(rng, depth + 1)})"
    if roll < 0.65:
        return f"{expr(rng, depth + 1)}|{rng.choice(FILTERS)}"
    if roll < 0.75:
        neg = "not " if rng.random() < 0.3 else ""
        return f"({expr(rng, depth + 1)} is {neg}{rng.choice(TESTS)})"
    if roll < 0.85:
        return f"{rng.choice(ATOMS)}.{rng.choice(METHODS)}"
    if roll < 0.92:
        return f"({expr(rng, depth + 1)} if {expr(rng, depth + 1)} else {expr(rng, depth + 1)})"
    return f"(not {expr(rng, depth + 1)})"


def template(rng):
    form = rng.random()
    a, b = expr(rng), expr(rng)
    if form < 0.5:
        return "{{ " + a + " }}|{{ " + b + " }}"
    if form < 0.65:
        return "{% if " + a + " %}Y{{ " + b + " }}{% else %}N{% endif %}"
    if form < 0.85:
        return ("{% for x in " + a + " %}[{{ x }}:{{ loop.index }}{{ loop.last }}]{% else %}E{% endfor %}"
                "{{ " + b + " }}")
    return "{% set v = " + a + " %}{{ v }}{% set ns = namespace(w=v) %}{{ ns.w == v }}"


def cases(count=2000, seed=1234):
    rng = random.Random(seed)
    return [template(rng) for _ in range(count)]


CASES = cases()


@pytest.fixture(scope="module")
def results():
    expected = [hf_reference.render(t, CONTEXT, hf=False) for t in CASES]
    got = render_batch([{"template": t, "context": CONTEXT, "hf": False} for t in CASES])
    return expected, got


def test_outputs_agree(results):
    expected, got = results
    mismatches = []
    for t, (eok, etext), (ok, text) in zip(CASES, expected, got):
        if eok != ok or (eok and etext != text):
            mismatches.append(f"{t!r}\n  jinja2: {eok} {etext!r}\n  tandem: {ok} {text!r}")
    assert not mismatches, f"{len(mismatches)} of {len(CASES)} differ:\n" + "\n".join(mismatches[:15])


def test_error_messages_agree(results):
    """Runtime errors carry Python's message. Not compared: syntax errors (our own wording, with the
    line), messages naming markupsafe's Markup (Tandem does not track Markup; autoescape is off in
    HF, so outputs are the same) and set operations on dict views (not supported)."""
    expected, got = results
    mismatches = []
    for t, (eok, etext), (ok, text) in zip(CASES, expected, got):
        if "Markup" in etext or "dict_items" in text or "dict_keys" in text:
            continue
        if not eok and not ok and etext != text and not text.startswith("syntax error on line"):
            mismatches.append(f"{t!r}\n  jinja2: {etext!r}\n  tandem: {text!r}")
    assert not mismatches, f"{len(mismatches)} messages differ:\n" + "\n".join(mismatches[:15])


def test_mix_is_meaningful(results):
    expected, _ = results
    ok = sum(e[0] for e in expected)
    assert ok > len(CASES) * 0.3 and len(CASES) - ok > len(CASES) * 0.05, ok
