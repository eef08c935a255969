// comet_batch.js: an optional helper for comet's Go wasm packages. Load it
// with <script src="comet_batch.js"> beside wasm_exec.js (no eval, no inline
// script: any CSP that allows the page's own scripts allows it). Without it
// the packages queue events natively and drain them with JSON.stringify.
//
// cometBatch.queue(target, types, keys, wake) listens for types on target
// and appends each event's keys to one string: per key `N:` and the string
// value, N its length in UTF-16 code units, or `-` when the value is not a
// string. The first event after a drain posts one task (a MessageChannel
// message, setTimeout where there is none) that calls wake() if events are
// waiting, so the rest of a network chunk reaches Go in the same batch. Go
// reads q.n and q.take() (the text, then emptied), once per batch, and
// calls q.close() when done.
"use strict";
(() => {
  class Queue {
    constructor(target, types, keys, wake) {
      this.s = "";
      this.n = 0;
      this.pending = false;
      this.target = target;
      this.types = Array.from(types);
      this.keys = Array.from(keys);
      this.wake = wake;
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
    }

    add(e) {
      let s = this.s;
      const keys = this.keys;
      for (let i = 0; i < keys.length; i++) {
        const v = e[keys[i]];
        s += typeof v === "string" ? v.length + ":" + v : "-";
      }
      this.s = s;
      this.n++;
      if (!this.pending) {
        this.pending = true;
        if (this.port !== null) this.port.postMessage(0);
        else this.timer = setTimeout(this.run, 0);
      }
    }

    take() {
      const s = this.s;
      this.s = "";
      this.n = 0;
      return s;
    }

    close() {
      for (const t of this.types) this.target.removeEventListener(t, this.listener);
      if (this.port !== null) {
        this.ports[1].onmessage = null;
        this.ports[0].close();
        this.ports[1].close();
        this.port = null;
      }
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.wake = null;
      this.s = "";
      this.n = 0;
    }
  }

  Object.defineProperty(globalThis, "cometBatch", {
    configurable: true, // tests remove it to check the fallback
    value: Object.freeze({
      version: 1,
      queue: (target, types, keys, wake) => new Queue(target, types, keys, wake),
    }),
  });
})();
