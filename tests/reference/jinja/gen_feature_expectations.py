"""Renders feature_cases.CASES with Python jinja2 (HF's environment) and writes
tests/data/templates/jinja_features.json for the GoogleTest suite.

Run after editing feature_cases.py:  .venv/bin/python tests/reference/jinja/gen_feature_expectations.py
test_feature_expectations.py fails when the file is stale.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import feature_cases  # noqa: E402
import hf_reference  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "data" / "templates" / "jinja_features.json"
NOW = 1722470400.25  # 2024-08-01 00:00:00.25 UTC, what strftime_now sees


def expectations():
    cases = []
    seen = set()
    tagged = [(c, False) for c in feature_cases.CASES] + [(c, True) for c in feature_cases.HF_CASES]
    for (name, template, context), hf in tagged:
        assert name not in seen, f"duplicate case name {name}"
        seen.add(name)
        try:
            hf_reference.make_environment(NOW).from_string(template)
            phase = "render"
        except Exception:  # noqa: BLE001 - any compile-time failure
            phase = "compile"
        ok, text = hf_reference.render(template, context, now=NOW, hf=hf)
        case = {"name": name, "hf": hf, "template": template, "context": context, "now": NOW, "ok": ok}
        if ok:
            case["output"] = text
        else:
            case["error"] = text
            case["phase"] = phase
        cases.append(case)
    return cases


def serialized():
    return json.dumps(expectations(), ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    OUT.write_text(serialized(), encoding="utf-8")
    print(f"wrote {OUT}")
