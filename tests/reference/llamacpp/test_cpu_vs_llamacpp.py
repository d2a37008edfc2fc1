"""The CPU runner against llama.cpp on the demo GGUF (fixtures from make_fixtures.py).

Error budget. llama.cpp does not compute the exact model: its CPU matrix
products quantize activations to 8 bits per block of 32 (Q8_1 against the Q4_1
weights, Q8_0 against the Q8_0 embedding/output matrix), and SmolLM2 has
outlier activation channels that make that quantization coarse. Measured on
these prompts against an exact float64 forward pass over the same dequantized
weights (gguf_numpy_reference.py): llama.cpp's logits rows are off by up to
~12% (relative L2), its top logits by up to ~1 logit, and its top-1 token
differs at ~5% of positions, all at near-ties. The CPU runner is within 0.4% of
that exact pass (test_cpu_vs_gguf_exact.py). So the bounds here are llama.cpp's
own error with some headroom, not ours:
  - top-1 identical at >= 95% of all positions (measured 96.6% of 657), and at
    every position where llama.cpp's top-2 margin is >= 0.5 logit (72% of them);
  - llama.cpp's top-10 logits: median abs error <= 0.4 (measured 0.26), max <= 2.0 (1.27);
  - full last-position rows: relative L2 error <= 0.15 (measured <= 0.097);
  - greedy continuations (32 tokens): identical up to the first step where
    llama.cpp's own top-2 margin is < 0.3 (a near-tie its noise can flip), and
    at least 4 of the 9 prompts identical for all 32 tokens (measured 4; all 9
    match the exact pass).
"""
import numpy as np

MARGIN_SURE = 0.5
MARGIN_TIE = 0.3


def compared_rows(cpu_run, meta, arrays, i):
    """(our rows, llama top ids, llama top logits) for prompt i: its prompt
    positions plus the continuation positions before the first differing token."""
    p = meta["prompts"][i]
    ours_gen, ref_gen = cpu_run.generated(i), p["generated"]
    first_diff = next((k for k, (a, b) in enumerate(zip(ours_gen, ref_gen)) if a != b), len(ref_gen))
    n = len(p["ids"]) + min(first_diff, len(ref_gen) - 1)
    return cpu_run.prompt_rows(i)[:n], arrays[f"p{i}_top_ids"][:n], arrays[f"p{i}_top_logits"][:n]


def test_fixture_matches_demo_model(fixture_data, demo_model):
    meta, _ = fixture_data
    assert meta["model_file"] == demo_model.name
    assert len(meta["prompts"]) >= 8
    lengths = [len(p["ids"]) for p in meta["prompts"]]
    assert min(lengths) == 1 and max(lengths) >= 250


def test_top1_agreement(cpu_run, fixture_data):
    meta, arrays = fixture_data
    agree, total, sure_disagree = 0, 0, []
    for i in range(len(meta["prompts"])):
        ours, top_ids, top_logits = compared_rows(cpu_run, meta, arrays, i)
        same = ours.argmax(axis=1) == top_ids[:, 0]
        agree += int(same.sum())
        total += len(same)
        margin = top_logits[:, 0] - top_logits[:, 1]
        sure_disagree += [(meta["prompts"][i]["name"], int(k)) for k in np.where(~same & (margin >= MARGIN_SURE))[0]]
    assert total > 500
    assert agree / total >= 0.95, f"top-1 agreement {agree}/{total}"
    assert not sure_disagree, f"top-1 differs where llama.cpp's margin >= {MARGIN_SURE}: {sure_disagree}"


def test_top_logits_close(cpu_run, fixture_data):
    meta, arrays = fixture_data
    errs = []
    for i in range(len(meta["prompts"])):
        ours, top_ids, top_logits = compared_rows(cpu_run, meta, arrays, i)
        errs.append(np.abs(np.take_along_axis(ours, top_ids, axis=1) - top_logits).max(axis=1))
    errs = np.concatenate(errs)
    assert np.median(errs) <= 0.4, f"median top-10 logit error {np.median(errs):.3f}"
    assert errs.max() <= 2.0, f"max top-10 logit error {errs.max():.3f}"


def test_row_norms_and_full_rows(cpu_run, fixture_data):
    meta, arrays = fixture_data
    for i, p in enumerate(meta["prompts"]):
        n = len(p["ids"])
        ours = cpu_run.prompt_rows(i)[:n].astype(np.float64)
        norms = arrays[f"p{i}_norms"][:n]
        rel_norm = np.abs(np.linalg.norm(ours, axis=1) - norms) / norms
        assert rel_norm.max() <= 0.15, f"{p['name']}: row norm off by {rel_norm.max():.3f}"
        last = arrays[f"p{i}_last_row"].astype(np.float64)
        rel = np.linalg.norm(ours[-1] - last) / np.linalg.norm(last)
        assert rel <= 0.15, f"{p['name']}: last row relative L2 error {rel:.4f}"


def test_greedy_continuations(cpu_run, fixture_data):
    meta, arrays = fixture_data
    identical = 0
    for i, p in enumerate(meta["prompts"]):
        n, ref_gen, ours = len(p["ids"]), p["generated"], cpu_run.generated(i)
        assert len(ours) == len(ref_gen) == meta["generate"]
        top = arrays[f"p{i}_top_logits"][n - 1:n - 1 + len(ref_gen)]
        margins = top[:, 0] - top[:, 1]  # llama.cpp's margin when choosing each generated token
        first_tie = next((k for k, m in enumerate(margins) if m < MARGIN_TIE), len(ref_gen))
        first_diff = next((k for k, (a, b) in enumerate(zip(ours, ref_gen)) if a != b), len(ref_gen))
        assert first_diff >= first_tie, (
            f"{p['name']}: continuation differs at step {first_diff} where llama.cpp's margin is "
            f"{margins[first_diff]:.3f}; ours {ours}, llama.cpp {ref_gen}")
        identical += first_diff == len(ref_gen)
    assert identical >= 4, f"only {identical} continuations identical to llama.cpp's"


def test_prefill_equals_token_by_token(cpu_run):
    # cpu_logits re-runs each prompt as one prefill chunk and compares with the
    # token-by-token (batched decode) logits at the last prompt position.
    assert cpu_run.summary["prefill_max_abs_diff"] == 0.0
