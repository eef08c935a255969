//go:build js && wasm

// Package bench holds the wasm programs that ./build.sh bench builds and
// runs (see server/bench): size/* are the smallest programs that use one
// package each, for the size table; comet/ and coder/ run the browser
// throughput and latency benchmarks in the page, beside plain JavaScript.
package bench
