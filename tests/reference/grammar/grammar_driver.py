"""Shared helpers for the grammar cross-checks (a plain module, not a conftest, so that its name does not
clash with other folders' conftest.py when pytest runs the whole tree): the grammar_tool driver
(tests/tools/grammar_tool.cpp) and the small byte-level vocabularies the checks use. The references are
independent: Python `re`, the `regex` package's partial matching (prefix viability) and `jsonschema`."""
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BUILD_DIR = Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))


def tool_path() -> Path:
    p = BUILD_DIR / "tests" / "tools" / "grammar_tool"
    if not p.exists():
        pytest.fail(f"{p} is not built (build target grammar_tool, or set TANDEM_BUILD_DIR)")
    return p


def run_tool(request: dict, vocab: dict) -> dict:
    req = dict(request)
    req["vocab"] = vocab
    proc = subprocess.run([str(tool_path())], input=json.dumps(req), capture_output=True, text=True, timeout=600)
    if not proc.stdout:
        raise AssertionError(f"grammar_tool failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout)


def make_vocab(tokens, n_special=1):
    """tokens: list of bytes. Appends n_special special tokens and one stop token (the last id)."""
    toks = [t.hex() for t in tokens]
    special = list(range(len(toks), len(toks) + n_special))
    toks += ["3c733e"] * n_special  # "<s>"
    stop = len(toks)
    toks.append("3c656f733e")  # "<eos>"
    return {"tokens_hex": toks, "special": special, "stop_ids": [stop]}, stop


def json_vocab():
    """Every single byte plus multi-byte tokens that cross JSON boundaries."""
    tokens = [bytes([b]) for b in range(256)]
    tokens += [s.encode() for s in ['", "', '": ', '{"', '"}', '"]', '[{', '}]', '},', 'true', 'false', 'null', '12',
                                     '0.', '-1', ' "', '\n  ', '  ', '":"', '","', 'name', 'é', '\\"', '\\u00e9', 'e+',
                                     '2024-', '-01', 'T12', ':00', 'Z"', '@', '.com"']]
    return make_vocab(tokens)
