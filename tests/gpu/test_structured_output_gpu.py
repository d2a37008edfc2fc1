"""Structured output on the GPU (issue #23): `tandem serve` with the CUDA backend on a random-weight Qwen3-0.6B
checkpoint (151,936-token vocabulary; random weights stress the grammar hardest, since the model has no idea of
JSON) answers 64 concurrent requests, each constrained by a different generated JSON Schema, plus regex, choice
and forced tool calls; every output must validate with Python `jsonschema` / `re`. The masks go through the
device path (CudaSampler's mask upload and token_mask kernel, the runner's before_sampling hook).

Needs an NVIDIA GPU, a CUDA build (TANDEM_BUILD_DIR) and tests/gpu/random_checkpoint.py with torch +
transformers; skips with a message elsewhere (CI has no GPU)."""
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpu_env import BUILD, HERE, require_gpu, require_modules


def bounded_schema(rng, depth=0):
    """A random JSON Schema whose every instance is short, so that even noise must finish within max_tokens."""
    kind = rng.choice(["integer", "string", "enum", "boolean", "array", "object"] if depth < 2 else
                      ["integer", "string", "enum", "boolean"])
    if kind == "integer":
        lo = rng.randint(-50, 50)
        return {"type": "integer", "minimum": lo, "maximum": lo + rng.randint(0, 500)}
    if kind == "string":
        return {"type": "string", "minLength": rng.randint(0, 2), "maxLength": rng.randint(3, 8)}
    if kind == "enum":
        return {"type": "string", "enum": rng.sample(["red", "green", "blue", "cyan", "magenta", "Zürich"], 3)}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "array":
        return {"type": "array", "items": bounded_schema(rng, depth + 1), "minItems": 0, "maxItems": rng.randint(1, 3)}
    props = {f"k{i}_{rng.randint(0, 99)}": bounded_schema(rng, depth + 1) for i in range(rng.randint(1, 4))}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def serve(model, tmp_path):
    cfg = tmp_path / "tandem.toml"
    cfg.write_text(f'[server]\nhost = "127.0.0.1"\nport = 0\n[model]\npath = "{model}"\n'
                   '[engine]\nbackend = "cuda"\ndevices = [0]\nmax_running = 64\nmax_batch_tokens = 4096\n'
                   'gpu_memory_fraction = 0.5\n')
    log_path = tmp_path / "serve.log"
    proc = subprocess.Popen([str(BUILD / "src" / "main" / "tandem"), "serve", "--config", str(cfg)],
                            stdout=open(log_path, "w"), stderr=subprocess.STDOUT, text=True)
    for _ in range(1200):
        m = re.search(r"\[main\] serving .* on http://[^ ]*:(\d+) ", log_path.read_text())
        if m:
            return proc, f"http://127.0.0.1:{m.group(1)}"
        assert proc.poll() is None, "server exited:\n" + log_path.read_text()
        time.sleep(0.25)
    proc.kill()
    raise AssertionError("server did not start:\n" + log_path.read_text())


def test_constrained_outputs_validate_on_the_gpu_with_random_weights(tmp_path):
    require_gpu("structured output on the CUDA backend runs on a GPU machine")
    require_modules(("torch", "transformers", "openai", "jsonschema"), "random_checkpoint.py and the references")
    if not (BUILD / "src" / "main" / "tandem").is_file() or not (BUILD / "tests" / "gpu").is_dir():
        pytest.skip(f"no CUDA build of tandem under {BUILD}")
    import jsonschema
    import openai

    sys.path.insert(0, str(HERE))
    import run_gpu_checks

    work = Path(os.environ.get("TANDEM_GPU_WORK", tmp_path))
    model = run_gpu_checks.make_checkpoint("qwen3-0.6b", work, legacy_rope=False)
    proc, base = serve(model, tmp_path)
    try:
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=600)
        name = client.models.list().data[0].id
        rng = random.Random(23)
        schemas = [bounded_schema(rng) for _ in range(64)]

        def run_schema(i):
            r = client.chat.completions.create(
                model=name, messages=[{"role": "user", "content": f"item {i}"}], max_tokens=1500, seed=i,
                temperature=1.0, stream=i % 2 == 1,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": f"s{i}", "schema": schemas[i], "strict": True}})
            if i % 2 == 1:
                text, finish = "", None
                for chunk in r:
                    for ch in chunk.choices:
                        text += ch.delta.content or ""
                        finish = ch.finish_reason or finish
                return text, finish
            return r.choices[0].message.content, r.choices[0].finish_reason

        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            results = list(pool.map(run_schema, range(64)))
        for i, (text, finish) in enumerate(results):
            assert finish == "stop", (i, finish, text[:300])
            jsonschema.validate(json.loads(text), schemas[i])

        pattern = r"[a-z]{1,6}-\d{2,4}"
        r = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "x"}], n=4, seed=1,
                                           max_tokens=64, extra_body={"structured_outputs": {"regex": pattern}})
        for c in r.choices:
            assert re.fullmatch(pattern, c.message.content), c.message.content
        options = ["alpha", "beta", "gamma delta"]
        r = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "x"}], n=4, seed=2,
                                           max_tokens=16, extra_body={"guided_choice": options})
        assert all(c.message.content in options for c in r.choices)
        params = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                                   "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                  "required": ["city", "days"], "additionalProperties": False}
        tools = [{"type": "function", "function": {"name": "forecast", "parameters": params}}]
        for choice in ("required", {"type": "function", "function": {"name": "forecast"}}):
            r = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "x"}], n=2, seed=3,
                                               max_tokens=400, tools=tools, tool_choice=choice)
            for c in r.choices:
                assert c.message.tool_calls, c
                for call in c.message.tool_calls:
                    assert call.function.name == "forecast"
                    jsonschema.validate(json.loads(call.function.arguments), params)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
