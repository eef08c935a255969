// comet's benchmark page. The host (server/bench) drives it over the
// DevTools protocol: benchRun(impl, name, params) runs one case with plain
// JavaScript ("js") or inside a Go wasm program ("comet", "coder") that
// registered globalThis.<impl>Bench, and resolves to
// {n, ms, bytes, lat: [...ms]}. Every implementation runs the same case
// against the same server, in this same page.
"use strict";

// nowMs is wall time in ms with sub-ms precision; Go programs and the host
// use the same clock (Unix epoch).
const nowMs = () => performance.timeOrigin + performance.now();

const once = (target, ok, bad) => new Promise((resolve, reject) => {
  target.addEventListener(ok, resolve, { once: true });
  if (bad) target.addEventListener(bad, () => reject(new Error(bad)), { once: true });
});

function openWS(url, binary) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  return once(ws, "open", "error").then(() => ws);
}

function payload(size, binary) {
  if (binary) return new Uint8Array(size).fill(120);
  return "x".repeat(size);
}

// messageSize is what the receiver has to touch to use a message.
const messageSize = (d) => (typeof d === "string" ? d.length : new Uint8Array(d).length);

const js = {
  // Echo ping-pong with `inflight` messages outstanding (1 = strict ping-pong).
  async wsEcho(p) {
    const ws = await openWS(p.url, p.binary);
    const msg = payload(p.size, p.binary);
    let sent = 0, got = 0, bytes = 0;
    const t0 = nowMs();
    await new Promise((resolve) => {
      ws.onmessage = (e) => {
        bytes += messageSize(e.data);
        got++;
        if (got === p.count) return resolve();
        if (sent < p.count) { ws.send(msg); sent++; }
      };
      for (; sent < Math.min(p.inflight, p.count); sent++) ws.send(msg);
    });
    const ms = nowMs() - t0;
    ws.close();
    return { n: got, ms, bytes };
  },

  // Sequential XHRs (GET, or POST of p.upload bytes).
  async xhr(p) {
    const body = p.upload ? new Uint8Array(p.upload).fill(121) : null;
    let bytes = 0;
    const t0 = nowMs();
    for (let i = 0; i < p.count; i++) {
      const x = new XMLHttpRequest();
      x.open(body ? "POST" : "GET", p.url + (p.url.includes("?") ? "&" : "?") + "r=" + Math.random());
      x.responseType = p.binary ? "arraybuffer" : "text";
      const done = once(x, "load", "error");
      x.send(body);
      await done;
      if (x.status < 200 || x.status > 299) throw new Error("status " + x.status + " from " + p.url);
      bytes += body ? body.length : messageSize(x.response);
    }
    return { n: p.count, ms: nowMs() - t0, bytes };
  },

  // EventSource: time from the first to the p.count-th event.
  async sse(p) {
    const es = new EventSource(p.url);
    let got = 0, t0 = 0, bytes = 0;
    const lat = [];
    await new Promise((resolve, reject) => {
      const on = (e) => {
        if (got === 0) t0 = nowMs();
        got++;
        bytes += e.data.length;
        if (p.latency) lat.push(nowMs() - JSON.parse(e.data).t / 1e6);
        if (got === p.count) resolve();
      };
      es.addEventListener(p.event || "message", on);
      es.onerror = () => { if (es.readyState === EventSource.CLOSED) reject(new Error("EventSource closed")); };
      if (p.ready) es.onopen = () => { globalThis.benchReadyFlag = true; };
    });
    const ms = nowMs() - t0;
    es.close();
    return { n: got, ms, bytes, lat };
  },

  // WebSocket subscriber for latency: each message carries t (Unix ns).
  async wsLatency(p) {
    const ws = await openWS(p.url);
    if (p.hello) ws.send(p.hello);
    const lat = [];
    let bytes = 0;
    await new Promise((resolve) => {
      ws.onmessage = (e) => {
        const t = nowMs();
        bytes += messageSize(e.data);
        const m = JSON.parse(e.data);
        const ts = m.t ?? (m.data && m.data.t);
        if (ts === undefined) return; // not a benchmark message
        lat.push(t - ts / 1e6);
        if (lat.length === p.count) resolve();
      };
      globalThis.benchReadyFlag = true;
    });
    ws.close();
    return { n: lat.length, ms: 0, bytes, lat };
  },
};

globalThis.benchRun = async (impl, name, params) => {
  globalThis.benchReadyFlag = false;
  if (impl === "js") {
    if (!js[name]) throw new Error("no JS case " + name);
    return js[name](params);
  }
  const f = globalThis[impl + "Bench"];
  if (!f) throw new Error("program " + impl + " is not loaded");
  return JSON.parse(await f(name, JSON.stringify(params)));
};

async function loadGo(file) {
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(fetch(file), go.importObject);
  go.run(instance); // runs until the program exits; its bench func stays registered
}

(async () => {
  const cfg = await (await fetch("bench.json")).json();
  for (const p of cfg.programs) await loadGo(p);
  document.getElementById("status").textContent = "ready";
  globalThis.benchLoaded = true;
})().catch((err) => {
  document.getElementById("status").textContent = "error: " + err;
  globalThis.benchLoadError = String(err && err.stack || err);
});
