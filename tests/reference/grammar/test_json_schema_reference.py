"""JSON Schema, json_object against Python `jsonschema`: every output of random walks through the matcher
(random allowed tokens until a stop id) parses with `json` and validates against its schema, formats
checked (FormatChecker). Hand-written schemas cover every supported keyword; random schemas add breadth.
Refusals name the keyword and its JSON pointer."""
import json
import random

import pytest

from grammar_driver import json_vocab, run_tool

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is required")

SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
     "required": ["name", "age"], "additionalProperties": False},
    {"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}, "c": {"type": "number"}}},
    {"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": True},
    {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"],
     "additionalProperties": {"type": "string", "maxLength": 3}},
    {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 9}},
    {"enum": ["red", "green", 3, None, {"k": [1, 2]}]},
    {"const": {"x": "é\"\\\n"}},
    {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "minimum": 10}]},
    {"oneOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "null"}, "maxItems": 2}]},
    {"type": "array", "items": {"type": "integer", "exclusiveMinimum": -3, "exclusiveMaximum": 12},
     "minItems": 2, "maxItems": 4},
    {"type": "array"},
    {"type": "string", "minLength": 3, "maxLength": 6},
    {"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"},
    {"type": "string", "pattern": "[a-z]\\d"},
    {"type": "string", "pattern": "^\"q\\\\"},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "time"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "hostname"},
    {"type": "string", "format": "uri"},
    {"type": "integer", "minimum": -120, "maximum": 4711},
    {"type": "integer", "minimum": 1000000, "maximum": 1000100},
    {"type": "integer", "maximum": -7},
    {"type": "number", "minimum": -2.5, "maximum": 3},
    {"type": "number", "minimum": 0},
    {"type": "number", "exclusiveMaximum": 0},
    {"type": ["string", "null"]},
    {"type": "integer", "enum": [1, "1", 2.0]},
    {"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
                                                       "kids": {"type": "array", "items": {"$ref": "#/$defs/node"},
                                                                "maxItems": 2}},
                        "required": ["v"]}},
     "$ref": "#/$defs/node"},
    {"definitions": {"s": {"type": "string", "maxLength": 4}}, "type": "object",
     "properties": {"a": {"$ref": "#/definitions/s"}, "b": {"allOf": [{"$ref": "#/definitions/s"}]}},
     "required": ["a", "b"]},
    {"title": "T", "description": "d", "examples": [1], "default": 1, "$comment": "c", "type": "integer"},
    True,
    {},
]


def validate_outputs(schema, answer, min_ended=1):
    assert answer["ok"], answer
    ended = [o for o in answer["outputs"] if o["ended"]]
    assert len(ended) >= min_ended, f"only {len(ended)} walks ended for {schema}"
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for o in ended:
        text = bytes.fromhex(o["hex"]).decode("utf-8")
        doc = json.loads(text)
        errors = list(validator.iter_errors(doc))
        assert not errors, f"{text!r} does not validate against {schema}: {errors[0].message}"
    return len(ended)


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_outputs_validate_with_jsonschema(schema):
    vocab, _ = json_vocab()
    answer = run_tool({"kind": "json_schema", "text": json.dumps(schema), "n": 20, "max_tokens": 1500, "seed": 17},
                      vocab)
    validate_outputs(schema, answer, min_ended=5)


def test_json_object_outputs_are_objects():
    vocab, _ = json_vocab()
    answer = run_tool({"kind": "json_object", "n": 20, "max_tokens": 1500, "seed": 4}, vocab)
    assert answer["ok"], answer
    ended = [o for o in answer["outputs"] if o["ended"]]
    assert len(ended) >= 5
    for o in ended:
        assert isinstance(json.loads(bytes.fromhex(o["hex"]).decode("utf-8")), dict)


def random_schema(rng, depth=0):
    kinds = ["string", "integer", "number", "boolean", "null", "enum"] + (["array", "object", "anyOf"] if depth < 3 else [])
    k = rng.choice(kinds)
    if k == "string":
        s = {"type": "string"}
        r = rng.random()
        if r < 0.3:
            s["minLength"] = rng.randint(0, 3)
            s["maxLength"] = s["minLength"] + rng.randint(0, 5)
        elif r < 0.45:
            s["format"] = rng.choice(["date", "uuid", "ipv4", "date-time", "email"])
        elif r < 0.6:
            s["pattern"] = rng.choice(["^[a-c]+$", "x\\d", "^(ab|cd)*$", "^.{2}$"])
        return s
    if k in ("integer", "number"):
        s = {"type": k}
        if rng.random() < 0.6:
            lo = rng.randint(-500, 500)
            s["minimum"] = lo
            if rng.random() < 0.7:
                s["maximum"] = lo + rng.randint(0, 2000)
        return s
    if k in ("boolean", "null"):
        return {"type": k}
    if k == "enum":
        return {"enum": rng.sample(["a", "b", 1, 2.5, None, True, [1], {"z": 0}], rng.randint(1, 4))}
    if k == "array":
        s = {"type": "array", "items": random_schema(rng, depth + 1)}
        if rng.random() < 0.5:
            s["minItems"] = rng.randint(0, 2)
            s["maxItems"] = s["minItems"] + rng.randint(0, 3)
        return s
    if k == "anyOf":
        return {"anyOf": [random_schema(rng, depth + 1), {"type": "null"}]}
    names = rng.sample(["alpha", "b", "c_d", "é", "q\"t", "n1", "n2"], rng.randint(1, 4))
    s = {"type": "object", "properties": {n: random_schema(rng, depth + 1) for n in names},
         "required": [n for n in names if rng.random() < 0.5]}
    s["additionalProperties"] = rng.random() < 0.2
    return s


def test_random_schemas_outputs_validate():
    rng = random.Random(2024)
    vocab, _ = json_vocab()
    schemas = [random_schema(rng) for _ in range(150)]
    batch = [{"kind": "json_schema", "text": json.dumps(s), "n": 6, "max_tokens": 2500, "seed": i}
             for i, s in enumerate(schemas)]
    results = run_tool({"batch": batch}, vocab)["results"]
    total = 0
    for schema, answer in zip(schemas, results):
        total += validate_outputs(schema, answer, min_ended=0)
    assert total >= 500, f"only {total} outputs ended"


@pytest.mark.parametrize("schema,needle", [
    ({"type": "object", "properties": {"a": {"type": "string", "minProperties": 1}}},
     "unsupported keyword 'minProperties' at '#/properties/a'"),
    ({"type": "array", "items": [{"type": "string"}]}, "at '#/items'"),
    ({"$ref": "#/$defs/missing"}, "does not resolve"),
    ({"$ref": "http://example.com/s.json"}, "only local references"),
    ({"type": "strin"}, "unknown type 'strin'"),
    ({"type": "string", "format": "ipv6"}, "unsupported format 'ipv6'"),
    ({"type": "string", "pattern": "(?=x)"}, "regex: unsupported group construct"),
    ({"type": "integer", "minimum": 5, "maximum": 4}, "no integer satisfies"),
    ({"type": "object", "required": ["x"]}, "required property 'x' is not in 'properties'"),
    ({"type": "integer", "const": "a"}, "'const' value does not have the schema's 'type'"),
])
def test_refusals_name_keyword_and_pointer(schema, needle):
    vocab, _ = json_vocab()
    answer = run_tool({"kind": "json_schema", "text": json.dumps(schema)}, vocab)
    assert not answer["ok"]
    assert needle in answer["error"], answer["error"]


def test_bad_json_names_the_offset():
    vocab, _ = json_vocab()
    answer = run_tool({"kind": "json_schema", "text": '{"type": "object",}'}, vocab)
    assert not answer["ok"] and "invalid JSON at offset" in answer["error"], answer


def test_non_strict_ignores_unknown_keywords():
    vocab, _ = json_vocab()
    schema = {"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 1}}, "required": ["a"]}
    answer = run_tool({"kind": "json_schema", "text": json.dumps(schema), "strict": False, "n": 10,
                       "max_tokens": 1500, "seed": 1}, vocab)
    validate_outputs(schema, answer)
