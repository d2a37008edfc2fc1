"""Median per figure and label over the driver's JSON lines (bench_<label>_<round>.jsonl files)."""
import json, re, statistics, sys
from collections import defaultdict

vals = defaultdict(lambda: defaultdict(list))
for path in sys.argv[1:]:
    label = re.sub(r"_\d+$", "", re.sub(r"^.*bench_|\.jsonl$", "", path))
    for line in open(path):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        b = r.get("bench")
        if b == "decode_b1":
            vals["decode_b1 ctx128 ms"][label].append(r["ms_per_token"])
        elif b == "decode_b1_sampled":
            vals[f"decode_b1_sampled {r['sampling']} ctx{r['ctx']} ms"][label].append(r["ms_per_token"])
        elif b == "decode_throughput":
            vals[f"decode_throughput b{r['batch']} ctx1024 ms/step"][label].append(r["ms_per_step"])
        elif b == "prefill":
            vals[f"prefill {r['tokens']} ms"][label].append(r["ms"])
labels = sorted({l for v in vals.values() for l in v}, key=lambda l: (l != "base", l))
print("figure | " + " | ".join(labels) + " | new/base")
for fig, per in vals.items():
    med = {l: statistics.median(per[l]) for l in labels if per.get(l)}
    ratio = med["new"] / med["base"] if "new" in med and "base" in med else float("nan")
    print(fig + " | " + " | ".join(f"{med[l]:.4f}" if l in med else "-" for l in labels) + f" | {ratio:.3f}")
