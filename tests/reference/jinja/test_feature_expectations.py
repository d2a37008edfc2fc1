"""tests/data/templates/jinja_features.json (replayed by the GoogleTest suite)
must be exactly what Python jinja2 renders for feature_cases.py today."""
from pathlib import Path

import pytest

import gen_feature_expectations

# feature_cases.py deliberately contains an unknown escape (\\q) that jinja2 warns about.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_feature_expectations_are_current():
    current = gen_feature_expectations.OUT.read_text(encoding="utf-8")
    assert current == gen_feature_expectations.serialized(), (
        "jinja_features.json is stale: run tests/reference/jinja/gen_feature_expectations.py")


def test_feature_cases_cover_errors_and_outputs():
    cases = gen_feature_expectations.expectations()
    assert sum(c["ok"] for c in cases) > 100
    assert sum(not c["ok"] for c in cases) > 20
