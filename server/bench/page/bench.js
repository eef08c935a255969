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

  // EventSource, opened p.repeat times (default 1): the time from the
  // first to the p.count-th event of each, summed. With p.latency each
  // event's data carries t (Unix ns) and the latency is recorded.
  async sse(p) {
    let n = 0, ms = 0, bytes = 0;
    const lat = [];
    for (let r = 0; r < (p.repeat || 1); r++) {
      const es = new EventSource(p.url);
      let got = 0, t0 = 0;
      await new Promise((resolve, reject) => {
        es.addEventListener(p.event || "message", (e) => {
          const t = nowMs();
          if (got === 0) t0 = performance.timeOrigin + e.timeStamp; // as the Go case: the first event's dispatch
          got++;
          bytes += e.data.length;
          if (p.latency) {
            const m = JSON.parse(e.data);
            lat.push(t - (m.t ?? m.data.t) / 1e6);
          }
          if (got === p.count) resolve();
        });
        es.onerror = () => { if (es.readyState === EventSource.CLOSED) reject(new Error("EventSource closed")); };
        es.onopen = () => { globalThis.benchReadyFlag = true; };
      });
      ms += nowMs() - t0;
      n += got;
      es.close();
    }
    return { n, ms, bytes, lat };
  },

  // Follows a hub topic over one transport (sse, ws, stream, longpoll,
  // poll) from p.cursor, in plain JS, until p.count "message" envelopes
  // arrived (or, with p.count 0, for p.duration ms: then n counts the
  // requests). Latency uses data.t (Unix ns) of each message.
  async subscribe(p) {
    const q = "topic=" + encodeURIComponent(p.topic) + "&cursor=" + encodeURIComponent(p.cursor);
    const lat = [];
    let got = 0, reqs = 0, bytes = 0, stop = false, finish;
    const done = new Promise((resolve) => { finish = resolve; });
    const onEnv = (env, raw) => {
      if (env.type !== "message") return;
      const t = nowMs();
      got++;
      bytes += raw;
      if (env.data && env.data.t !== undefined) lat.push(t - env.data.t / 1e6);
      if (p.count > 0 && got >= p.count) finish();
    };
    const ready = () => { globalThis.benchReadyFlag = true; };
    if (p.count === 0) setTimeout(finish, p.duration);
    const base = p.base || location.origin;
    const t0 = nowMs();
    let current = null; // the poll or long poll in flight
    let closer = () => { if (current) current.abort(); };
    const get = (url, etag) => new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      current = x;
      x.onabort = () => resolve(x);
      x.open("GET", url);
      if (etag) x.setRequestHeader("If-None-Match", etag);
      x.onload = () => resolve(x);
      x.onerror = () => reject(new Error("network error on " + url));
      x.send();
      reqs++;
    });
    switch (p.transport) {
      case "sse": {
        const es = new EventSource(base + "/realtime/sse?" + q);
        es.onopen = ready;
        es.addEventListener("message", (e) => onEnv(JSON.parse(e.data), e.data.length));
        closer = () => es.close();
        break;
      }
      case "ws": {
        const ws = new WebSocket(base.replace(/^http/, "ws") + "/ws/realtime?" + q);
        ws.onopen = ready;
        ws.onmessage = (e) => onEnv(JSON.parse(e.data), e.data.length);
        closer = () => ws.close();
        break;
      }
      case "stream": {
        const x = new XMLHttpRequest();
        let seen = 0;
        x.open("GET", base + "/realtime/stream?" + q);
        // readystatechange fires for every chunk in Chromium; progress at
        // most every 50 ms (the XHR spec's throttle).
        const parse = () => {
          const text = x.responseText;
          let nl;
          while ((nl = text.indexOf("\n", seen)) >= 0) {
            const line = text.slice(seen, nl);
            seen = nl + 1;
            if (line) onEnv(JSON.parse(line), line.length);
          }
        };
        x.onreadystatechange = () => { if (x.readyState >= 2) ready(); if (x.readyState === 3) parse(); };
        x.onprogress = parse;
        x.send();
        reqs++;
        closer = () => x.abort();
        break;
      }
      case "fetchstream": { // the same stream read with fetch: no XHR progress throttle
        const ac = new AbortController();
        (async () => {
          const resp = await fetch(base + "/realtime/stream?" + q, { signal: ac.signal });
          ready();
          const reader = resp.body.getReader();
          const dec = new TextDecoder();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let nl;
            while ((nl = buf.indexOf("\n")) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line) onEnv(JSON.parse(line), line.length);
            }
          }
        })().catch(() => {});
        reqs++;
        closer = () => ac.abort();
        break;
      }
      case "longpoll": {
        let cursor = p.cursor;
        (async () => {
          while (!stop) {
            const pending = get(base + "/realtime/longpoll?topic=" + encodeURIComponent(p.topic) + "&cursor=" + encodeURIComponent(cursor));
            ready();
            const x = await pending;
            if (stop) break;
            const b = JSON.parse(x.responseText);
            for (const m of b.messages || []) onEnv(m, JSON.stringify(m).length);
            cursor = b.cursor;
          }
        })();
        break;
      }
      case "poll": {
        let cursor = p.cursor, etag = "";
        (async () => {
          while (!stop) {
            const x = await get(base + "/realtime/poll?topic=" + encodeURIComponent(p.topic) + "&cursor=" + encodeURIComponent(cursor), etag);
            ready();
            if (x.status === 200) {
              const b = JSON.parse(x.responseText);
              for (const m of b.messages || []) onEnv(m, JSON.stringify(m).length);
              cursor = b.cursor;
              etag = x.getResponseHeader("ETag") || "";
            }
            await new Promise((r) => setTimeout(r, p.interval));
          }
        })();
        break;
      }
      default:
        throw new Error("unknown transport " + p.transport);
    }
    await done;
    stop = true;
    closer();
    return { n: p.count === 0 ? reqs : got, ms: nowMs() - t0, bytes, lat };
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
