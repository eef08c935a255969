// comet_batch.js: an optional helper for comet's Go wasm packages. Load it
// with <script src="comet_batch.js"> beside wasm_exec.js (no eval, no inline
// script: any CSP that allows the page's own scripts allows it). Without it
// every event calls into Go, which reads it with Get, and a request's or a
// message's values cross the boundary one by one.
//
// cometBatch.queue(target, types, keys, wake, eager, flush) listens for types on
// target and appends each event's keys to one growing byte buffer: per key
// a 4-byte little-endian length and the value's UTF-8
// (TextEncoder.encodeInto, so a lone surrogate becomes U+FFFD); for an
// object (a WebSocket message's ArrayBuffer or Blob) the length 0xFFFFFFFE
// and the object goes into an array, q.taken after take(); for a number
// 0xFFFFFFFD and its float64 (8 bytes, little-endian); for true and false
// 0xFFFFFFFC and 0xFFFFFFFB; for anything else (undefined, null) the
// length 0xFFFFFFFF. The first event after a quiet spell posts one task (a
// MessageChannel message, setTimeout where there is none) that calls
// wake() if events are waiting, so the rest of a network chunk reaches Go
// in the same batch; with eager, that first event also calls wake() at
// once (a lone event does not wait for the task, which Chromium runs ~1 ms
// later on an idle page, and 25-75 ms after a burst). An event of type
// flush (a string; the server's "end of burst" marker) is not queued: it
// calls wake() at once if events are waiting, and the next event counts as
// the first after a quiet spell. Go calls q.take() once per batch: it empties the
// queue and returns how many bytes q.out holds (the events, then their
// count as 4 bytes), or -1 minus that when q.out is another array than at
// the last take, so Go keeps its handle on q.out and no view is made per
// batch; 0 when nothing is queued. Go calls q.close() when done.
//
// cometBatch.sendText(socket, u8, n) sends the UTF-8 in u8's first n bytes
// as a text message: Go copies a message into one Uint8Array it keeps,
// instead of making a JavaScript string per message.
//
// cometBatch.xhrEnd(x, f) makes f(code) x's onload, onerror, onabort and
// ontimeout handler, with code 0, 1, 2 and 3, so Go gets a number instead
// of the event; cometBatch.xhrResult(x, body) returns x's status,
// statusText, responseURL and getAllResponseHeaders(), each followed by
// "\n", then responseText if body is true: one string for what Go would
// read in 13 calls.
"use strict";
(() => {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const endCodes = { load: 0, error: 1, abort: 2, timeout: 3 };
  const initialSize = 64 << 10;
  const maxKeptSize = 1 << 20;

  class Queue {
    constructor(target, types, keys, wake, eager, flush) {
      this.buf = new Uint8Array(initialSize);
      this.view = new DataView(this.buf.buffer);
      this.out = null;
      this.pos = 0;
      this.n = 0;
      this.vals = [];
      this.taken = [];
      this.pending = false;
      this.target = target;
      this.types = Array.from(types);
      this.keys = Array.from(keys);
      this.wake = wake;
      this.eager = eager === true;
      this.timer = undefined;
      this.run = () => {
        this.pending = false;
        this.timer = undefined;
        if (this.n > 0 && this.wake !== null) this.wake();
      };
      this.port = null;
      if (typeof MessageChannel === "function") {
        const ch = new MessageChannel();
        ch.port2.onmessage = this.run;
        if (typeof ch.port2.unref === "function") ch.port2.unref(); // node: an idle port must not keep it alive
        this.ports = [ch.port1, ch.port2];
        this.port = ch.port1;
      }
      this.listener = (e) => this.add(e);
      for (const t of this.types) target.addEventListener(t, this.listener);
      this.flushType = typeof flush === "string" && flush !== "" ? flush : null;
      this.flusher = () => {
        this.pending = false; // a task may still be posted: it finds nothing, or what came after
        if (this.n > 0 && this.wake !== null) this.wake();
      };
      if (this.flushType !== null) target.addEventListener(this.flushType, this.flusher);
    }

    add(e) {
      const keys = this.keys;
      for (let i = 0; i < keys.length; i++) {
        const v = e[keys[i]];
        const pos = this.pos;
        if (typeof v !== "string") {
          this.other(v);
          continue;
        }
        this.room(4 + 3 * v.length); // UTF-8 takes at most 3 bytes per UTF-16 unit
        const { written } = encoder.encodeInto(v, this.buf.subarray(pos + 4));
        this.view.setUint32(pos, written, true);
        this.pos = pos + 4 + written;
      }
      this.n++;
      if (!this.pending) {
        this.pending = true;
        if (this.port !== null) this.port.postMessage(0);
        else this.timer = setTimeout(this.run, 0);
        if (this.eager && this.wake !== null) this.wake();
      }
    }

    // other appends a value that is not a string (kept out of add, whose
    // string path is the hot one).
    other(v) {
      this.room(12);
      const pos = this.pos;
      let tag = 0xFFFFFFFF;
      let size = 4;
      if (typeof v === "number") {
        tag = 0xFFFFFFFD;
        this.view.setFloat64(pos + 4, v, true);
        size = 12;
      } else if (typeof v === "boolean") {
        tag = v ? 0xFFFFFFFC : 0xFFFFFFFB;
      } else if (typeof v === "object" && v !== null) {
        tag = 0xFFFFFFFE;
        this.vals.push(v);
      }
      this.view.setUint32(pos, tag, true);
      this.pos = pos + size;
    }

    // room makes sure need more bytes fit after pos.
    room(need) {
      if (this.pos + need <= this.buf.length) return;
      let size = this.buf.length * 2;
      while (size < this.pos + need) size *= 2;
      const buf = new Uint8Array(size);
      buf.set(this.buf.subarray(0, this.pos));
      this.buf = buf;
      this.view = new DataView(buf.buffer);
    }

    take() {
      if (this.n === 0) return 0;
      this.room(4);
      this.view.setUint32(this.pos, this.n, true);
      let r = this.pos + 4;
      if (this.out !== this.buf) {
        this.out = this.buf;
        r = -1 - r;
      }
      if (this.buf.length > maxKeptSize) { // a burst's buffer is not kept
        this.buf = new Uint8Array(initialSize);
        this.view = new DataView(this.buf.buffer);
      }
      this.pos = 0;
      this.n = 0;
      this.taken = this.vals;
      this.vals = [];
      return r;
    }

    close() {
      for (const t of this.types) this.target.removeEventListener(t, this.listener);
      if (this.flushType !== null) this.target.removeEventListener(this.flushType, this.flusher);
      if (this.port !== null) {
        this.ports[1].onmessage = null;
        this.ports[0].close();
        this.ports[1].close();
        this.port = null;
      }
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.wake = null;
      this.out = null;
      this.pos = 0;
      this.n = 0;
      this.vals = [];
      this.taken = [];
    }
  }

  Object.defineProperty(globalThis, "cometBatch", {
    configurable: true, // tests remove it to check the fallback
    value: Object.freeze({
      version: 7,
      queue: (target, types, keys, wake, eager, flush) => new Queue(target, types, keys, wake, eager, flush),
      sendText: (socket, u8, n) => socket.send(decoder.decode(u8.subarray(0, n))),
      xhrEnd: (x, f) => {
        const h = (e) => f(endCodes[e.type] ?? 1);
        x.onload = h;
        x.onerror = h;
        x.onabort = h;
        x.ontimeout = h;
      },
      xhrResult: (x, body) =>
        x.status + "\n" + (x.statusText ?? "") + "\n" + (x.responseURL ?? "") + "\n" +
        (x.getAllResponseHeaders() ?? "") + "\n" + (body ? x.responseText : ""),
    }),
  });
})();
