// Loaded with `node --require` before wasm_exec_node.js: installs npm
// implementations of the browser APIs node 20 lacks, and records the Go
// instance at globalThis.__cometGo so tests can count the JS references Go
// holds (see wasm/internal/jsutil.LiveRefs).
"use strict";
const { EventSource } = require("eventsource");
globalThis.XMLHttpRequest ??= require("xhr2");
globalThis.EventSource ??= EventSource;
globalThis.WebSocket ??= require("ws").WebSocket;
// The helper script the packages detect, as a page loads it beside wasm_exec.js.
require("../../../public/comet_batch.js");

let GoClass;
Object.defineProperty(globalThis, "Go", {
  configurable: true,
  get() { return GoClass; },
  set(cls) {
    GoClass = class extends cls {
      constructor(...args) {
        super(...args);
        globalThis.__cometGo = this;
      }
    };
  },
});
