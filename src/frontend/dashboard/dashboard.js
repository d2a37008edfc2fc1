// Tandem's dashboard: polls /dashboard/data once a second (only what is new
// since the last poll, by `seq`) and draws the figures with plain DOM and SVG.
// No library, nothing loaded from elsewhere (the server's CSP forbids it).
"use strict";

(function () {
  const DATA_URL = new URL("data", document.currentScript ? document.currentScript.src : location.href).pathname;
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 1000;

  const state = {
    seq: 0,          // highest seq seen
    samples: [],     // oldest first, at most `history`
    decisions: [],
    history: 600,
    intervalS: 1,
    windowS: 10,
    last: null,      // the last snapshot
  };

  function $(id) { return document.getElementById(id); }

  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
    return v.toFixed(digits === undefined ? 1 : digits);
  }
  function ms(seconds) { return seconds === null || seconds === undefined ? null : seconds * 1000; }
  function pct(f) { return f === null || f === undefined ? null : f * 100; }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---------------------------------------------------------------- tiles

  function renderTiles(snapshot) {
    const s = state.samples.length ? state.samples[state.samples.length - 1] : null;
    $("tile-generation").textContent = s ? fmt(s.generation_tps) : "–";
    $("tile-prompt").textContent = s ? fmt(s.prompt_tps) : "–";
    $("tile-running").textContent = s ? String(s.running) : "–";
    $("tile-waiting").textContent = s ? String(s.waiting) : "–";
    $("tile-ttft").textContent = s ? fmt(ms(s.ttft_s.p95), 0) : "–";
    $("tile-itl").textContent = s ? fmt(ms(s.itl_s.p95), 1) : "–";
    const device = (snapshot.kv || []).find(function (t) { return t.tier === "device"; });
    $("tile-kv").textContent = device && device.capacity > 0 ? fmt(100 * device.used / device.capacity) : "–";
    $("tile-hits").textContent = s ? fmt(pct(s.hit_rate)) : "–";
  }

  // ---------------------------------------------------------------- workers

  function kvCell(tiers) {
    const box = el("div", "kv");
    for (const t of tiers) {
      const row = el("div", "kv-row");
      row.appendChild(el("span", "tier", t.tier));
      const bar = el("span", "bar");
      const fill = el("span", "fill " + t.tier);
      const f = t.capacity > 0 ? Math.min(1, t.used / t.capacity) : 0;
      fill.style.width = (100 * f).toFixed(1) + "%";
      bar.appendChild(fill);
      row.appendChild(bar);
      row.appendChild(el("span", "num", fmt(t.used, 0) + " / " + fmt(t.capacity, 0) + " blocks"));
      box.appendChild(row);
    }
    return box;
  }

  function renderWorkers(snapshot) {
    const body = $("workers").tBodies[0];
    body.replaceChildren();
    for (const w of snapshot.workers) {
      const tr = el("tr");
      tr.dataset.worker = w.name;
      tr.appendChild(el("td", "name", w.name));
      tr.appendChild(el("td", "", w.backend || "–"));
      tr.appendChild(el("td", "", w.device || "–"));
      tr.appendChild(el("td", "role", w.role));
      tr.appendChild(el("td", "state state-" + w.state, w.state));
      tr.appendChild(el("td", "", fmt(w.running, 0)));
      tr.appendChild(el("td", "", fmt(w.waiting, 0)));
      const td = el("td");
      td.appendChild(kvCell(w.kv));
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  // ---------------------------------------------------------------- charts

  const W = 600, H = 170, PAD_L = 46, PAD_R = 8, PAD_T = 8, PAD_B = 20;

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * p >= v) return m * p;
    }
    return 10 * p;
  }

  function timeRange(snapshot) {
    const end = snapshot.now || Date.now();
    return [end - state.history * state.intervalS * 1000, end];
  }

  // series: [{name, get: sample -> number|null}]; fixedMax: a fixed top (100 for %).
  function lineChart(figureId, series, snapshot, fixedMax) {
    const fig = $(figureId);
    const old = fig.querySelector("svg");
    if (old) old.remove();
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
    const [t0, t1] = timeRange(snapshot);
    let top = 0;
    for (const s of state.samples) {
      for (const ser of series) {
        const v = ser.get(s);
        if (v !== null && v !== undefined && isFinite(v)) top = Math.max(top, v);
      }
    }
    top = fixedMax || niceMax(top);
    const x = function (t) { return PAD_L + (W - PAD_L - PAD_R) * (t - t0) / (t1 - t0); };
    const y = function (v) { return PAD_T + (H - PAD_T - PAD_B) * (1 - v / top); };
    root.appendChild(svg("line", { class: "axis", x1: PAD_L, y1: y(0), x2: W - PAD_R, y2: y(0) }));
    root.appendChild(svg("line", { class: "axis", x1: PAD_L, y1: y(top), x2: W - PAD_R, y2: y(top) }));
    root.appendChild(svg("text", { class: "tick", x: PAD_L - 4, y: y(top) + 4, "text-anchor": "end" }, fmt(top, top < 10 ? 1 : 0)));
    root.appendChild(svg("text", { class: "tick", x: PAD_L - 4, y: y(0), "text-anchor": "end" }, "0"));
    const minutes = state.history * state.intervalS / 60;
    for (let m = 0; m <= minutes; m += minutes >= 10 ? 2 : 1) {
      const t = t1 - m * 60000;
      root.appendChild(svg("text", { class: "tick", x: x(t), y: H - 4, "text-anchor": m === 0 ? "end" : "middle" },
                           m === 0 ? "now" : "-" + m + "m"));
    }
    let any = false;
    series.forEach(function (ser, i) {
      let d = "";
      let pen = false;
      for (const s of state.samples) {
        const v = ser.get(s);
        if (v === null || v === undefined || !isFinite(v) || s.t < t0) { pen = false; continue; }
        d += (pen ? "L" : "M") + x(s.t).toFixed(1) + " " + y(Math.min(v, top)).toFixed(1);
        pen = true;
        any = true;
      }
      if (d) root.appendChild(svg("path", { class: "series c" + i, d: d }));
      const lx = PAD_L + 8 + i * 110;
      root.appendChild(svg("rect", { class: "c" + i, x: lx, y: PAD_T + 2, width: 10, height: 3 }));
      root.appendChild(svg("text", { class: "legend", x: lx + 14, y: PAD_T + 7 }, ser.name));
    });
    if (!any) {
      root.appendChild(svg("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data yet"));
    }
    fig.appendChild(root);
  }

  // One lane per worker (plus one for decisions about the whole server); a
  // mark per decision, its title the full text.
  function plannerChart(snapshot) {
    const fig = $("chart-planner");
    const old = fig.querySelector("svg");
    if (old) old.remove();
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
    const [t0, t1] = timeRange(snapshot);
    const lanes = ["(server)"].concat(snapshot.workers.map(function (w) { return w.name; }));
    const laneH = (H - PAD_T - PAD_B) / lanes.length;
    const x = function (t) { return PAD_L + (W - PAD_L - PAD_R) * (t - t0) / (t1 - t0); };
    lanes.forEach(function (name, i) {
      const yy = PAD_T + laneH * (i + 0.5);
      root.appendChild(svg("line", { class: "axis", x1: PAD_L, y1: yy, x2: W - PAD_R, y2: yy }));
      root.appendChild(svg("text", { class: "tick", x: PAD_L - 4, y: yy + 3, "text-anchor": "end" }, name));
    });
    let shown = 0;
    for (const d of state.decisions) {
      if (d.t < t0) continue;
      const lane = Math.max(0, lanes.indexOf(d.worker || "(server)"));
      const yy = PAD_T + laneH * (lane + 0.5);
      const mark = svg("line", { class: "decision", x1: x(d.t), y1: yy - laneH * 0.35, x2: x(d.t), y2: yy + laneH * 0.35 });
      mark.appendChild(svg("title", {}, new Date(d.t).toLocaleTimeString() + " " + d.action + " " +
                           (d.worker || "") + ": " + d.from + " → " + d.to + " (" + d.reason + ")"));
      root.appendChild(mark);
      shown++;
    }
    if (!shown) {
      const text = snapshot.planner.enabled ? "no decisions in the last " + Math.round(state.history * state.intervalS / 60) + " minutes"
                                            : "planner: off (no decisions)";
      root.appendChild(svg("text", { class: "empty", x: W / 2, y: H - PAD_B - 4, "text-anchor": "middle" }, text));
    }
    fig.appendChild(root);
  }

  function renderCharts(snapshot) {
    lineChart("chart-throughput", [
      { name: "generation", get: function (s) { return s.generation_tps; } },
      { name: "prompt", get: function (s) { return s.prompt_tps; } },
    ], snapshot);
    lineChart("chart-ttft", [
      { name: "p50", get: function (s) { return ms(s.ttft_s.p50); } },
      { name: "p95", get: function (s) { return ms(s.ttft_s.p95); } },
      { name: "p99", get: function (s) { return ms(s.ttft_s.p99); } },
    ], snapshot);
    lineChart("chart-itl", [
      { name: "p50", get: function (s) { return ms(s.itl_s.p50); } },
      { name: "p95", get: function (s) { return ms(s.itl_s.p95); } },
      { name: "p99", get: function (s) { return ms(s.itl_s.p99); } },
    ], snapshot);
    lineChart("chart-cache", [
      { name: "prefix hits", get: function (s) { return pct(s.hit_rate); } },
      { name: "KV use", get: function (s) { return pct(s.kv_usage); } },
    ], snapshot, 100);
    lineChart("chart-queue", [
      { name: "running", get: function (s) { return s.running; } },
      { name: "waiting", get: function (s) { return s.waiting; } },
    ], snapshot);
    plannerChart(snapshot);
  }

  // ---------------------------------------------------------------- polling

  function apply(snapshot) {
    state.history = snapshot.history;
    state.intervalS = snapshot.interval_s;
    state.windowS = snapshot.window_s;
    state.last = snapshot;
    for (const s of snapshot.samples) state.samples.push(s);
    while (state.samples.length > state.history) state.samples.shift();
    for (const d of snapshot.planner.decisions) state.decisions.push(d);
    while (state.decisions.length > 1000) state.decisions.shift();
    state.seq = Math.max(state.seq, snapshot.seq);

    $("model").textContent = snapshot.model;
    const conn = $("connection");
    conn.textContent = snapshot.draining ? "draining" : "live";
    conn.className = "badge " + (snapshot.draining ? "draining" : "live");
    const planner = $("planner-state");
    planner.textContent = "planner: " + (snapshot.planner.enabled ? "on" : "off");
    $("updated").textContent = snapshot.now ? "updated " + new Date(snapshot.now).toLocaleTimeString() : "";
    $("note").textContent = "Rates over the last " + fmt(state.intervalS, 0) + " s; percentiles and hit rate over the last " +
      fmt(state.windowS, 0) + " s (from the Prometheus histograms' buckets); history " +
      fmt(state.history * state.intervalS / 60, 0) + " minutes.";
    renderTiles(snapshot);
    renderWorkers(snapshot);
    renderCharts(snapshot);
  }

  function poll() {
    fetch(DATA_URL + "?since=" + state.seq, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (snapshot) {
        // A restarted server counts seq from 0 again: start over.
        if (snapshot.seq < state.seq) {
          state.seq = 0;
          state.samples = [];
          state.decisions = [];
          return;
        }
        apply(snapshot);
      })
      .catch(function (e) {
        const conn = $("connection");
        conn.textContent = "disconnected (" + e.message + ")";
        conn.className = "badge down";
      })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  poll();
})();
