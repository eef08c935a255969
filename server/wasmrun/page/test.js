// Runs one GOOS=js test binary in the page. wasmrun reads the console: Go's
// stdout and stderr arrive as console.log lines, and the exit code as one
// console.debug line starting with __WASMRUN_EXIT__.
"use strict";
(async () => {
  const cfg = await (await fetch("config.json")).json();
  const go = new Go();
  globalThis.__cometGo = go; // lets tests count the JS references Go holds
  go.argv = ["test.wasm", ...cfg.args];
  go.env = cfg.env;
  let exited = false;
  go.exit = (code) => {
    exited = true;
    document.getElementById("status").textContent = "exit " + code;
    console.debug("__WASMRUN_EXIT__ " + code);
  };
  const { instance } = await WebAssembly.instantiateStreaming(fetch("test.wasm"), go.importObject);
  await go.run(instance);
  if (!exited) console.debug("__WASMRUN_EXIT__ 0");
})().catch((err) => {
  console.error("wasmrun: " + (err && err.stack || err));
  console.debug("__WASMRUN_EXIT__ 1");
});
