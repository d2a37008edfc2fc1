"""`tandem serve` with the flags vLLM users type, on the demo model: several
served names, the context limit, and the demo's sampling defaults (as
scripts/run passes them) under which the README's quick-start request
answers in seconds."""
import json
import subprocess
import time

import openai
import pytest
import requests

# As scripts/run passes them.
DEMO_DEFAULTS = {"temperature": 0.2, "top_p": 0.9, "repetition_penalty": 1.1, "max_new_tokens": 512}
README_BODY = {"model": "SmolLM2-135M-Instruct.Q4_1",
               "messages": [{"role": "user", "content": "What is the capital of France?"}]}


@pytest.fixture(scope="module")
def demo(make_tandem):
    return make_tandem("--served-model-name", "SmolLM2-135M-Instruct.Q4_1", "smol", "--max-model-len", "2048",
                       "--override-generation-config", json.dumps(DEMO_DEFAULTS), "--enable-auto-tool-choice",
                       "--no-enable-prefix-caching")


def test_every_served_name_is_listed_and_accepted(demo):
    client = openai.OpenAI(base_url=demo.url("/v1"), api_key="unused", max_retries=0)
    models = client.models.list().data
    assert [m.id for m in models] == ["SmolLM2-135M-Instruct.Q4_1", "smol"]
    assert all(m.model_dump()["max_model_len"] == 2048 for m in models)
    assert client.models.retrieve("smol").id == "smol"
    r = client.chat.completions.create(model="smol", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    assert r.model == "SmolLM2-135M-Instruct.Q4_1"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="other", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)


def test_the_readme_request_answers_in_seconds(demo):
    """No max_tokens, no temperature: the demo's defaults make it stop on its own."""
    for seed in range(3):
        start = time.monotonic()
        r = requests.post(demo.url("/v1/chat/completions"), json={**README_BODY, "seed": seed}, timeout=60)
        assert r.status_code == 200, r.text
        choice = r.json()["choices"][0]
        assert choice["finish_reason"] == "stop", choice
        assert "Paris" in choice["message"]["content"]
        assert time.monotonic() - start < 30
    assert any("default sampling: temperature 0.2, top_p 0.9, repetition_penalty 1.1, max_tokens 512" in line
               for line in demo.log)


def test_help_lists_the_flags_with_their_keys(tandem_binary):
    out = subprocess.run([str(tandem_binary), "serve", "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    assert "--served-model-name NAME..." in out.stdout and "[model] aliases" in out.stdout
    assert "--max-num-batched-tokens N" in out.stdout and "[engine] max_batch_tokens" in out.stdout


def test_a_bad_flag_value_names_flag_and_key(tandem_binary):
    out = subprocess.run([str(tandem_binary), "serve", "--max-model-len", "-1"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "--max-model-len: [model] max_context: expected an integer" in out.stderr


def test_chat_template_and_generation_config_folder(make_tandem, tmp_path):
    (tmp_path / "template.jinja").write_text("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}")
    (tmp_path / "generation_config.json").write_text(json.dumps({"temperature": 0.3, "top_k": 20}))
    s = make_tandem("--chat-template", str(tmp_path / "template.jinja"), "--generation-config", str(tmp_path))
    messages = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    r = requests.post(s.url("/tokenize"), json={"messages": messages, "return_token_strs": True}, timeout=10).json()
    rendered = "".join(r["token_strs"]).replace("\u0120", " ").replace("\u010a", "\n")
    assert rendered == "[system] Be brief.\n[user] Hi\n"
    assert any("default sampling: temperature 0.3, top_k 20" in line for line in s.log)
