"""Tandem's Jinja interpreter against Python jinja2 configured as HF's
apply_chat_template: every published template x conversation x option must
render byte-identically, or fail with the same message."""
import itertools
import json
import subprocess
from pathlib import Path

import pytest

import hf_reference
from jinja_driver import REPO, render_batch
from gguf_chat_template import chat_template

DATA = REPO / "tests" / "data" / "templates"
NOW = 1722470400.5  # 2024-08-01 00:00:00.5 UTC

# template file -> special tokens HF passes (the model's special_tokens_map)
TEMPLATES = {
    "smollm2.jinja": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
    "llama3.1.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama3.2.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "qwen2.5.jinja": {"eos_token": "<|im_end|>"},
    "qwen3.jinja": {"eos_token": "<|im_end|>"},
    "mistral_nemo.jinja": {"bos_token": "<s>", "eos_token": "</s>"},
    "mistral_small_3.2.jinja": {"bos_token": "<s>", "eos_token": "</s>"},
    "gemma2.jinja": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "gemma3.jinja": {"bos_token": "<bos>", "eos_token": "<eos>"},
}


def conversations():
    return sorted((DATA / "conversations").glob("*.json"))


def build_cases():
    cases = []
    for template_name, tokens in TEMPLATES.items():
        source = (DATA / template_name).read_text(encoding="utf-8")
        for conv_path, agp in itertools.product(conversations(), (False, True)):
            conv = json.loads(conv_path.read_text(encoding="utf-8"))
            thinking_options = [None]
            if template_name == "qwen3.jinja":
                thinking_options = [None, True, False]
            for thinking in thinking_options:
                context = {"messages": conv["messages"], "add_generation_prompt": agp, **tokens}
                if "tools" in conv:
                    context["tools"] = conv["tools"]
                context.update(conv.get("kwargs", {}))
                if thinking is not None:
                    context["enable_thinking"] = thinking
                case_id = f"{template_name}-{conv_path.stem}-agp{int(agp)}" + (
                    "" if thinking is None else f"-think{int(thinking)}")
                cases.append((case_id, {"template": source, "context": context, "now": NOW}))
    return cases


CASES = build_cases()


@pytest.fixture(scope="module")
def tandem_results():
    return dict(zip([c[0] for c in CASES], render_batch([c[1] for c in CASES])))


@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_matches_jinja2(case_id, case, tandem_results):
    expected_ok, expected = hf_reference.render(case["template"], case["context"], now=case["now"])
    ok, got = tandem_results[case_id]
    if expected_ok:
        assert ok, f"Tandem failed where jinja2 rendered: {got}"
        assert got == expected
    else:
        assert not ok, f"jinja2 raised {expected!r} but Tandem rendered {got!r}"
        assert got == expected


def test_every_template_renders_something():
    # Guard against a matrix where everything fails identically.
    ok_by_template = {}
    for case_id, case in CASES:
        ok, _ = hf_reference.render(case["template"], case["context"], now=case["now"])
        name = case_id.split("-")[0]
        ok_by_template[name] = ok_by_template.get(name, 0) + int(ok)
    assert all(count > 5 for count in ok_by_template.values()), ok_by_template


def test_smollm2_template_is_the_demo_models():
    gguf = subprocess.run([str(REPO / "scripts" / "fetch_model")], capture_output=True, text=True, check=True)
    path = Path(gguf.stdout.strip().splitlines()[-1])
    if not path.is_absolute():
        path = REPO / path
    assert chat_template(path) == (DATA / "smollm2.jinja").read_text(encoding="utf-8")
