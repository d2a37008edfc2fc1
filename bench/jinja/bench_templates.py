#!/usr/bin/env python3
"""Chat-template rendering speed: Tandem's Jinja interpreter (tests/tools/render_template,
"repeat" mode) against Python jinja2 in HF's environment (tests/reference/jinja/hf_reference.py),
on published templates and conversations from tests/data/templates/. Both sides compile once and
render many times, including the context conversion from JSON-like input each time (Tandem:
boost::json -> values + HF context rules; jinja2: the same dicts passed to render()).

    TANDEM_BUILD_DIR=build-jinja python3 bench/jinja/bench_templates.py [--repeat 2000] [--rounds 5]

Prints one table (medians over rounds); the last lines are the headline figures.
"""
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "reference" / "jinja"))
import jinja_driver as driver  # noqa: E402
import hf_reference  # noqa: E402

DATA = REPO / "tests" / "data" / "templates"
CASES = [
    ("smollm2.jinja", "multi_turn.json", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}),
    ("llama3.1.jinja", "tools.json", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    ("qwen2.5.jinja", "multi_turn.json", {"eos_token": "<|im_end|>"}),
    ("qwen3.jinja", "tools.json", {"eos_token": "<|im_end|>"}),
    ("qwen3.jinja", "reasoning.json", {"eos_token": "<|im_end|>"}),
    ("mistral_small_3.2.jinja", "tools.json", {"bos_token": "<s>", "eos_token": "</s>"}),
    ("gemma3.jinja", "special_chars.json", {"bos_token": "<bos>", "eos_token": "<eos>"}),
]
NOW = 1722470400.0


def arg(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


def main():
    repeat = arg("--repeat", 2000)
    rounds = arg("--rounds", 5)
    rows = []
    for template_name, conv_name, tokens in CASES:
        source = (DATA / template_name).read_text(encoding="utf-8")
        conv = json.loads((DATA / "conversations" / conv_name).read_text(encoding="utf-8"))
        context = {"messages": conv["messages"], "add_generation_prompt": True, **tokens}
        if "tools" in conv:
            context["tools"] = conv["tools"]
        ok, expected = hf_reference.render(source, context, now=NOW)
        assert ok, expected
        case = {"template": source, "context": context, "now": NOW, "repeat": repeat}
        tandem_render, tandem_compile = [], []
        for _ in range(rounds):
            reply = driver.render_raw([case])[0]
            assert reply["ok"] and reply["output"] == expected, reply
            tandem_render.append(reply["render_seconds"] / repeat)
            tandem_compile.append(reply["compile_seconds"] / repeat)
        env = hf_reference.make_environment(NOW)
        template = env.from_string(source)
        kwargs = dict(context)
        messages = kwargs.pop("messages")
        py_render, py_compile = [], []
        py_repeat = max(repeat // 10, 20)
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(py_repeat):
                template.render(messages=hf_reference.alias_reasoning(messages), documents=None, **kwargs)
            py_render.append((time.perf_counter() - start) / py_repeat)
            start = time.perf_counter()
            for _ in range(max(py_repeat // 10, 5)):
                env.from_string(source + " " * (len(py_compile) + 1))  # defeat jinja2's template cache
            py_compile.append((time.perf_counter() - start) / max(py_repeat // 10, 5))
        rows.append((f"{template_name} / {conv_name}", len(expected), statistics.median(tandem_render),
                     statistics.median(py_render), statistics.median(tandem_compile),
                     statistics.median(py_compile)))
    print(f"| template / conversation | output bytes | Tandem render us | jinja2 render us | speedup | "
          f"Tandem compile us | jinja2 compile us |")
    print("|---|---|---|---|---|---|---|")
    for name, size, tr, pr, tc, pc in rows:
        print(f"| {name} | {size} | {tr * 1e6:.1f} | {pr * 1e6:.1f} | {pr / tr:.1f}x | {tc * 1e6:.0f} | {pc * 1e6:.0f} |")
    renders = [r[2] for r in rows]
    ratios = [r[3] / r[2] for r in rows]
    print(f"Tandem render time, median over cases: {statistics.median(renders) * 1e6:.1f} us "
          f"(max {max(renders) * 1e6:.1f} us)")
    print(f"Speedup over Python jinja2 render, median over cases: {statistics.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
