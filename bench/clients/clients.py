#!/usr/bin/env python3
"""guidellm and aiperf against `tandem serve` (run by run.sh inside .venv-clients; see README.md).

Starts the server on a free port, writes the GGUF's tokenizer as a Hugging Face tokenizer, then:
  1. sweep: each tool on /v1/completions (streaming), concurrency levels one after the other, a fixed
     duration each, synthetic prompts of --input-tokens, --output-tokens forced with ignore_eos;
  2. chat pass: each tool on /v1/chat/completions at --chat-concurrency for --chat-duration; a tool that
     gets errors there runs again for 5 s through capture_proxy.py, so that the refused request is
     reported with its body and the server's answer (the tools keep little more than the status).
Stops the server and prints one table (also OUT/table.md; everything else is under OUT).
"""
import argparse
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
WARNINGS: list[str] = []
SERVING_RE = re.compile(r"\[main\] serving (\S+) on http://([^:/\s]+):(\d+) ")


def log(msg: str) -> None:
    print(f"[clients {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def tool_env(name: str) -> dict:
    env = dict(os.environ)
    env.update(TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    if name == "guidellm":
        # Nothing is to be fetched from a model hub: the tokenizer is a local directory. Not for aiperf 0.13.0:
        # in offline mode it looks even a local path up as a cached hub snapshot and fails (HFValidationError:
        # Repo id must be in the form 'repo_name' ...); online it sees the absolute path and loads it as is.
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def run_tool(name: str, cmd: list[str], out_dir: Path, timeout_s: int) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "command.txt").write_text(" ".join(cmd) + "\n")
    log(f"{name}: {' '.join(cmd)}")
    t0 = time.time()
    with open(out_dir / "console.txt", "w") as console:
        try:
            rc = subprocess.run(cmd, cwd=out_dir, stdout=console, stderr=subprocess.STDOUT, env=tool_env(name),
                                timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    log(f"{name}: exit status {rc} after {time.time() - t0:.0f} s (console: {out_dir / 'console.txt'})")
    return rc


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, binary: str, model: str, out: Path, extra: list[str]):
        self.log_path = out / "server.log"
        self.logf = open(self.log_path, "w")
        self.cmd = [binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
                    "--backend", "cpu", *extra]
        log("server: " + " ".join(self.cmd))
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            m = SERVING_RE.search(self.log_path.read_text(errors="replace"))
            if m:
                self.model_name, host, port = m.group(1), m.group(2), int(m.group(3))
                self.url = f"http://{host}:{port}"
                log(f"server: {self.model_name} on {self.url}")
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        sys.exit(f"tandem serve did not print its '[main] serving ... on http://HOST:PORT' line; see {self.log_path}")

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


class Proxy:
    def __init__(self, upstream: str, log_path: Path):
        self.log_path = log_path
        self.proc = subprocess.Popen([sys.executable, str(HERE / "capture_proxy.py"), upstream, str(log_path)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (\d+)", line)
        if not m:
            self.stop()
            sys.exit(f"capture_proxy.py did not start: {line!r}")
        self.url = f"http://127.0.0.1:{m.group(1)}"

    def failures(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        entries = [json.loads(l) for l in self.log_path.read_text().splitlines() if l.strip()]
        return [e for e in entries if e["status"] >= 400]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------- guidellm

def guidellm(args, url: str, endpoint: str, levels: list[int], duration: int, out: Path) -> list[dict]:
    result = out / "guidellm.json"
    cmd = [str(VENV_BIN / "guidellm"), "run",
           "--backend", f"kind=openai_http,target={url},request_format=/v1/{endpoint}",
           "--profile", f"kind=concurrent,streams={levels[0]}",
           "--constraint", f"kind=max_duration,seconds={duration}",
           "--constraint", f"kind=max_errors,count={args.max_errors}",
           "--tokenizer", f"kind=huggingface_auto,model={args.tokenizer_dir}",
           "--data", f"kind=synthetic_text,prompt_tokens={args.input_tokens},output_tokens={args.output_tokens}",
           "--seed", "kind=static,value=1",
           "--output", f"kind=json,path={result}",
           "--disable-console-interactive"]
    if len(levels) > 1:
        cmd += ["--override", "profile.streams", ",".join(map(str, levels))]
    rc = run_tool("guidellm", cmd, out, args.tool_timeout)
    rows = []
    if not result.exists():
        return [dict(tool="guidellm", endpoint=endpoint, concurrency=c, ok=0, errors=None,
                     note=f"no report (exit status {rc}); see {out / 'console.txt'}") for c in levels]
    report = json.loads(result.read_text())
    for b in report["benchmarks"]:
        m = b["metrics"]
        totals = m["request_totals"]

        def stat(name, key):
            s = (m.get(name) or {}).get("successful") or {}
            if not s.get("count"):
                return None
            return s["mean"] if key == "mean" else s["percentiles"][key]

        row = dict(tool="guidellm", endpoint=endpoint, concurrency=b["config"]["strategy"].get("streams"),
                   ok=totals["successful"], errors=totals["errored"], incomplete=totals["incomplete"],
                   rps=stat("requests_per_second", "mean"), out_tps=stat("output_tokens_per_second", "mean"),
                   ttft_p50=stat("time_to_first_token_ms", "p50"), ttft_p99=stat("time_to_first_token_ms", "p99"),
                   itl_p50=stat("inter_token_latency_ms", "p50"), itl_p99=stat("inter_token_latency_ms", "p99"),
                   in_tokens=stat("prompt_token_count", "mean"), out_tokens=stat("output_token_count", "mean"))
        errored = b["requests"].get("errored") or []
        if errored:
            row["first_error"] = (errored[0].get("info") or {}).get("error")
        rows.append(row)
    return rows


# ---------------------------------------------------------------- aiperf

def aiperf(args, url: str, model: str, endpoint: str, levels: list[int], duration: int, out: Path) -> list[dict]:
    art = out / "artifacts"
    cmd = [str(VENV_BIN / "aiperf"), "profile",
           "--model", model, "--url", url,
           "--endpoint-type", "chat" if endpoint == "chat/completions" else "completions", "--streaming",
           "--tokenizer", str(args.tokenizer_dir),
           "--synthetic-input-tokens-mean", str(args.input_tokens), "--synthetic-input-tokens-stddev", "0",
           "--output-tokens-mean", str(args.output_tokens), "--output-tokens-stddev", "0",
           "--extra-inputs", "ignore_eos:true",
           "--concurrency", ",".join(map(str, levels)),
           "--benchmark-duration", str(duration), "--benchmark-grace-period", str(args.grace),
           "--random-seed", "1", "--artifact-dir", str(art), "--ui", "none", "--no-gpu-telemetry"]
    rc = run_tool("aiperf", cmd, out, args.tool_timeout)
    rows = []
    for c in levels:
        path = art / f"concurrency_{c}" / "profile_export_aiperf.json"
        if len(levels) == 1 and not path.exists():
            path = art / "profile_export_aiperf.json"
        if not path.exists():
            rows.append(dict(tool="aiperf", endpoint=endpoint, concurrency=c, ok=0, errors=None,
                             note=f"no report (exit status {rc}); see {out / 'console.txt'}"))
            continue
        d = json.loads(path.read_text())

        def get(name, key):
            v = d.get(name)
            return v.get(key) if isinstance(v, dict) else None

        errors = d.get("error_summary") or []
        n_err = sum(int(e.get("count", 0)) for e in errors)
        row = dict(tool="aiperf", endpoint=endpoint, concurrency=c, ok=int(get("request_count", "avg") or 0),
                   errors=n_err, rps=get("request_throughput", "avg"), out_tps=get("output_token_throughput", "avg"),
                   ttft_p50=get("time_to_first_token", "p50"), ttft_p99=get("time_to_first_token", "p99"),
                   itl_p50=get("inter_token_latency", "p50"), itl_p99=get("inter_token_latency", "p99"),
                   in_tokens=get("input_sequence_length", "avg"), out_tokens=get("output_sequence_length", "avg"),
                   server_in_tokens=get("usage_prompt_tokens", "avg"),
                   server_out_tokens=get("usage_completion_tokens", "avg"))
        if errors:
            row["first_error"] = json.dumps(errors[0])[:600]
        rows.append(row)
    # aiperf scrapes the server's /metrics unless it finds it unreachable, which it says only in its log.
    logs = " ".join(p.read_text(errors="replace") for p in art.rglob("aiperf.log"))
    if "Server metrics enabled" in logs:
        log(f"aiperf {endpoint}: its scrape of {url}/metrics was enabled")
    if "Server metrics disabled" in logs:
        WARNINGS.append(f"aiperf {endpoint}: 'Server metrics disabled - no Prometheus endpoints reachable' "
                        f"(its probe is HEAD {url}/metrics, then GET on the same connection)")
    return rows


def run_one(args, tool: str, url: str, model: str, endpoint: str, levels: list[int], duration: int,
            out: Path) -> list[dict]:
    if tool == "guidellm":
        return guidellm(args, url, endpoint, levels, duration, out)
    return aiperf(args, url, model, endpoint, levels, duration, out)


# ---------------------------------------------------------------- report

def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def table(rows: list[dict]) -> str:
    head = ("| tool | endpoint | concurrency | ok / errors | requests/s | output tok/s | TTFT p50 ms | TTFT p99 ms "
            "| ITL p50 ms | ITL p99 ms |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        err = r.get("errors")
        ok = f"{r.get('ok', 0)} / {'-' if err is None else err}"
        if r.get("incomplete"):
            ok += f" (+{r['incomplete']} cut at the end)"
        lines.append(f"| {r['tool']} | {r['endpoint']} | {fmt(r['concurrency'])} | {ok} | {fmt(r.get('rps'), 3)} "
                     f"| {fmt(r.get('out_tps'))} | {fmt(r.get('ttft_p50'), 0)} | {fmt(r.get('ttft_p99'), 0)} "
                     f"| {fmt(r.get('itl_p50'))} | {fmt(r.get('itl_p99'))} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tandem", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tools", nargs="+", default=["guidellm", "aiperf"], choices=["guidellm", "aiperf"])
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--duration", type=int, default=30, help="seconds per concurrency level of the sweep")
    p.add_argument("--chat-concurrency", type=int, default=2)
    p.add_argument("--chat-duration", type=int, default=30, help="seconds of the chat pass (0 = skip it)")
    p.add_argument("--input-tokens", type=int, default=128)
    p.add_argument("--output-tokens", type=int, default=32)
    p.add_argument("--grace", type=int, default=60, help="aiperf: seconds to let in-flight requests finish")
    p.add_argument("--max-errors", type=int, default=50, help="guidellm: stop a level after this many errors")
    p.add_argument("--tool-timeout", type=int, default=900)
    p.add_argument("--server-arg", action="append", default=[], help="extra argument for tandem serve")
    args = p.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    sys.path.insert(0, str(HERE))
    from gguf_tokenizer import export

    args.tokenizer_dir = out / "tokenizer"
    log(export(args.model, str(args.tokenizer_dir)))

    versions = {n: importlib.metadata.version(n) for n in ("guidellm", "aiperf", "transformers", "gguf")}
    log("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    server = Server(args.tandem, args.model, out, args.server_arg)
    rows: list[dict] = []
    captured: dict[str, list[dict]] = {}
    try:
        warm = server.post("/v1/completions", {"model": server.model_name, "prompt": "Hello", "max_tokens": 4})
        log(f"warm-up: usage {warm.get('usage')}")
        for tool in args.tools:
            rows += run_one(args, tool, server.url, server.model_name, "completions", args.concurrency,
                            args.duration, out / tool / "completions")
        if args.chat_duration > 0:
            for tool in args.tools:
                chat = run_one(args, tool, server.url, server.model_name, "chat/completions",
                               [args.chat_concurrency], args.chat_duration, out / tool / "chat")
                rows += chat
                if any(r.get("errors") or r.get("note") for r in chat):
                    # Again, briefly, through the capture proxy: the failing request and the server's answer.
                    proxy = Proxy(server.url, out / f"capture-{tool}-chat.jsonl")
                    try:
                        run_one(args, tool, proxy.url, server.model_name, "chat/completions", [1], 5,
                                out / tool / "chat-capture")
                    finally:
                        proxy.stop()
                    captured[tool] = proxy.failures()
    finally:
        server.stop()
        log("server stopped")

    for r in rows:
        if not r.get("ok") and not r.get("errors") and not r.get("note"):
            # Neither a failure nor a figure: every request was still running when the window closed.
            r["note"] = (f"no request completed within the window ({r.get('incomplete') or 0} cut at the end); "
                         "lengthen --duration / --chat-duration or lower --output-tokens")
    status_lines = [l for l in server.log_path.read_text(errors="replace").splitlines() if " status=" in l]
    # 499: the client closed the request (guidellm cancels those still running when a level ends), not a refusal.
    cancelled = [l for l in status_lines if " status=499 " in l]
    refused = [l for l in status_lines if re.search(r" status=[45]\d\d", l) and l not in cancelled]
    by_kind: dict[str, int] = {}
    for l in refused:
        m = re.search(r" (\S+ \S+) status=(\d+)", l)
        if m:
            key = f"{m.group(1)} -> {m.group(2)}"
            by_kind[key] = by_kind.get(key, 0) + 1
    report = dict(warnings=WARNINGS, versions=versions, server=server.cmd, model_name=server.model_name, rows=rows,
                  refused_by_server=len(refused), cancelled_by_client=len(cancelled),
                  captured_failures={k: v[:3] for k, v in captured.items()},
                  load_average=open("/proc/loadavg").read().split()[:3])
    (out / "results.json").write_text(json.dumps(report, indent=1))

    print()
    for r in rows:
        if r.get("first_error") or r.get("note"):
            print(f"{r['tool']} {r['endpoint']} c={r['concurrency']}: {r.get('note') or ''} "
                  f"first error: {r.get('first_error')}")
    for tool, fails in captured.items():
        if fails:
            f = fails[0]
            print(f"{tool} chat: {len(fails)} requests refused; first: {f['method']} {f['path']} -> {f['status']}\n"
                  f"  request: {f['request'][:600]}\n  response: {f.get('response')}")
    for w in WARNINGS:
        print(w)
    print(f"server log: {len(status_lines)} requests answered, {len(cancelled)} closed by the client (499), "
          f"{len(refused)} refused or failed (other 4xx/5xx)"
          + "".join(f"; {k}: {n}" for k, n in sorted(by_kind.items())))
    for r in rows:
        if r.get("server_in_tokens") is not None:
            print(f"aiperf {r['endpoint']} c={r['concurrency']}: tokens per request, client-counted in/out "
                  f"{fmt(r['in_tokens'])}/{fmt(r['out_tokens'])}, server usage in/out "
                  f"{fmt(r['server_in_tokens'])}/{fmt(r['server_out_tokens'])}")
    print(f"load average at the end: {' '.join(report['load_average'])}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"input {args.input_tokens} tokens, output {args.output_tokens} tokens (ignore_eos), "
          f"{args.duration} s per level; chat pass c={args.chat_concurrency} for {args.chat_duration} s")
    print()
    t = table(rows)
    (out / "table.md").write_text(t + "\n")
    print(t)
    bad = [r for r in rows if r.get("errors") or r.get("note") or not r.get("ok")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
