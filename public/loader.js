// Loads app.wasm with a progress bar, then runs it. This is the page's only
// hand-written JavaScript; everything else is Go.
"use strict";
(async () => {
  const bar = document.getElementById("loading-bar");
  const text = document.getElementById("loading-text");
  const fail = (msg) => {
    text.textContent = msg;
    document.getElementById("loading").classList.add("error");
  };
  if (!("WebAssembly" in window)) return fail("This browser cannot run WebAssembly.");
  try {
    const resp = await fetch("app.wasm");
    if (!resp.ok) return fail(`app.wasm: HTTP ${resp.status}. Run ./build.sh wasm first.`);
    // Bytes arrive decoded; X-Decoded-Length is the size after decoding.
    const total = Number(resp.headers.get("X-Decoded-Length") || resp.headers.get("Content-Length") || 0);
    const reader = resp.body.getReader();
    const chunks = [];
    let loaded = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      if (total) bar.value = loaded / total;
      text.textContent = `${(loaded / 1048576).toFixed(1)} MB`;
    }
    const bytes = new Uint8Array(loaded);
    let at = 0;
    for (const c of chunks) { bytes.set(c, at); at += c.length; }
    const go = new Go();
    globalThis.__cometGo = go; // lets tests count the JS references Go holds
    const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
    document.getElementById("loading").hidden = true;
    await go.run(instance);
    fail("The Go program exited. Reload the page to start it again.");
    document.getElementById("loading").hidden = false;
  } catch (err) {
    fail(`Could not start the Go program: ${err}`);
  }
})();
