"""Every schema of the BFCL corpus (bfcl_corpus.py, > 3,000 distinct function-parameter schemas) through
compile + random valid generation + `jsonschema` validation. Refusals are allowed only for features the
engine documents as unsupported; the counts are printed (pytest -s) and recorded in docs/benchmarks.md."""
import collections
import json
import re

import pytest

from bfcl_corpus import schemas
from grammar_driver import json_vocab, run_tool

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is required")


def test_bfcl_schemas_compile_generate_and_validate():
    corpus = schemas()
    assert len(corpus) >= 500
    vocab, _ = json_vocab()
    batch = [{"kind": "json_schema", "text": json.dumps(s), "n": 2, "max_tokens": 3000, "seed": i}
             for i, s in enumerate(corpus)]
    results = run_tool({"batch": batch}, vocab)["results"]
    compiled = refused = validated = 0
    reasons = collections.Counter()
    for schema, answer in zip(corpus, results):
        if not answer["ok"]:
            assert "dead_end" not in answer, answer
            refused += 1
            reasons[re.sub(r" at '#.*'$", "", answer["error"])] += 1
            continue
        compiled += 1
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        for o in answer["outputs"]:
            if not o["ended"]:
                continue
            text = bytes.fromhex(o["hex"]).decode("utf-8")
            errors = list(validator.iter_errors(json.loads(text)))
            assert not errors, f"{text!r} does not validate against {schema}: {errors[0].message}"
            validated += 1
    print(f"\nBFCL corpus: {len(corpus)} schemas, {compiled} compiled, {refused} refused, {validated} outputs validated")
    for reason, n in reasons.most_common():
        print(f"  refused {n}: {reason}")
    assert compiled >= 0.95 * len(corpus)
    assert validated >= len(corpus)
