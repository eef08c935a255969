#!/bin/sh
# comet's one build script. Subcommands:
#   ./build.sh wasm            build the demo into public/ (app.wasm, wasm_exec.js)
#   ./build.sh serve [flags]   build, then serve the page (default http://127.0.0.1:8080)
#   ./build.sh test            install what tests need, then run every check
#   ./build.sh wasmtest ENV [go test args]   GOOS=js tests in node or chromium only,
#                              e.g. ./build.sh wasmtest chromium -run TestX ./wasm/xhr
#   ./build.sh bench           benchmarks (see the benchmark issue)
set -eu
cd "$(dirname "$0")"
ROOT=$(pwd)
export COMET_ROOT="$ROOT"

WASM_LIB="$(go env GOROOT)/lib/wasm"
NODE_DIR=server/wasmrun/node
OUT=${COMET_OUT:-${TMPDIR:-/tmp}/comet-build}
ARTIFACTS=${COMET_ARTIFACTS:-${TMPDIR:-/tmp}/comet-artifacts}

say() { printf '%s\n' "$*"; }
die() { say "build.sh: $*" >&2; exit 1; }

build_wasm() {
	say "wasm: building the demo"
	GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o public/app.wasm ./wasm/demo
	cp "$WASM_LIB/wasm_exec.js" public/wasm_exec.js
	rm -f public/app.wasm.gz public/app.wasm.br
	gzip -9 -k -f public/app.wasm
	if command -v brotli >/dev/null 2>&1; then
		brotli -q 11 -k -f public/app.wasm
	fi
	say "wasm: public/app.wasm $(wc -c <public/app.wasm) bytes raw, $(wc -c <public/app.wasm.gz) gzip$(
		[ -f public/app.wasm.br ] && printf ', %s brotli' "$(wc -c <public/app.wasm.br)")"
}

build_tools() {
	mkdir -p "$OUT"
	go build -o "$OUT/comet-server" ./server
	go build -o "$OUT/wasmrun" ./server/wasmrun
}

# install_deps installs what the tests need when it is missing: the npm
# packages of the node harness (from the committed lock file), Chromium
# (with brotli for the wasm, and fonts-nanum so Korean seed text renders),
# redis-server and nginx-light (started per test run on free loopback
# ports), and openssl.
install_deps() {
	command -v node >/dev/null 2>&1 || die "node is missing: install node 20 (Debian: apt-get install nodejs npm)"
	if [ ! -d "$NODE_DIR/node_modules/ws" ] || [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ]; then
		say "deps: npm ci in $NODE_DIR"
		(cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
	fi
	missing=""
	if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
		missing="chromium brotli fonts-nanum"
	fi
	command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
	command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
	if [ -n "$missing" ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			say "deps: installing Debian's$missing with apt-get"
			apt-get update -qq >/dev/null
			# shellcheck disable=SC2086 # a list of package names
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
		else
			die "missing:$missing (install them with apt-get, or set CHROMIUM=/path/to/chrome)"
		fi
	fi
}

# run_suite NAME CMD... runs one part of the suite with output in a log,
# counts its test results, and prints the failures.
FAILED_SUITES=""
SUMMARY=""
TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
run_suite() {
	name=$1
	shift
	log="$OUT/test-$name.log"
	say "test: $name"
	start=$(date +%s)
	if "$@" >"$log" 2>&1; then status=ok; else status=FAIL; fi
	pass=$(grep -c -- '--- PASS' "$log" || true)
	fail=$(grep -c -- '--- FAIL' "$log" || true)
	skip=$(grep -c -- '--- SKIP' "$log" || true)
	if [ "$status" = FAIL ]; then
		[ "$fail" -gt 0 ] || fail=1
		FAILED_SUITES="$FAILED_SUITES $name"
		say "---- $name failed; the failing part of $log:"
		grep -n -B2 -A25 -E -- '--- FAIL|^FAIL|panic:|build failed|wasmrun:|cannot|error' "$log" | head -150 || tail -60 "$log"
		say "----"
	fi
	grep -E '^(ok|FAIL|---) ' "$log" | grep -v -- '--- ' | sed 's/^/  /' || true
	SUMMARY="$SUMMARY$(printf '%-9s %4d passed, %d failed, %d skipped  (%ss)' "$name:" "$pass" "$fail" "$skip" "$(($(date +%s) - start))")
"
	TOTAL_PASS=$((TOTAL_PASS + pass))
	TOTAL_FAIL=$((TOTAL_FAIL + fail))
	TOTAL_SKIP=$((TOTAL_SKIP + skip))
}

check_static() {
	unformatted=$(gofmt -l server wasm)
	[ -z "$unformatted" ] || { say "gofmt would change: $unformatted"; return 1; }
	say "--- PASS: gofmt"
	go vet ./... || return 1
	say "--- PASS: go vet (host)"
	GOOS=js GOARCH=wasm go vet ./... || return 1
	say "--- PASS: go vet (js/wasm)"
	# The core browser packages must not pull in net/http (~8 MB of wasm).
	for p in ./wasm/xhr ./wasm/sse ./wasm/ws; do
		[ -d "$p" ] || continue
		if GOOS=js GOARCH=wasm go list -deps "$p" | grep -qxE 'net/http|github.com/coder/websocket'; then
			say "--- FAIL: $p imports net/http or coder/websocket"
			return 1
		fi
	done
	say "--- PASS: core packages free of net/http"
}

# GOOS=js has GOMAXPROCS 1, so go test's -parallel defaults to 1 there:
# parallel tests (e.g. the minute-long token expiry per transport) would run
# one after another.
WASM_PARALLEL=8

wasm_tests() {
	WASMRUN_ENV=$1 COMET_SERVER_BIN="$OUT/comet-server" GOOS=js GOARCH=wasm \
		go test -v -count=1 -parallel $WASM_PARALLEL -timeout 20m -exec "$OUT/wasmrun" ./wasm/...
}

# fuzz_tests runs every Fuzz target of the host packages for
# COMET_FUZZTIME each (default 2000x: 2,000 inputs; 2 workers). A count,
# not a duration: go1.26's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" when a -fuzztime duration ends under load
# (golang/go#75804, fixed in go1.27). New failing inputs land in the
# package's testdata/fuzz/ (commit them once fixed).
fuzz_tests() {
	for dir in $(grep -l '^func Fuzz' $(find server -name '*_test.go') | xargs -n1 dirname | sort -u); do
		for target in $(grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
			go test -run '^$' -fuzz "^$target\$" -fuzztime "${COMET_FUZZTIME:-2000x}" -parallel 2 "./$dir" >"$OUT/fuzz-$target.log" 2>&1 ||
				{ cat "$OUT/fuzz-$target.log"; say "--- FAIL: fuzz $target"; return 1; }
			say "--- PASS: fuzz $target ($(grep -o 'execs: [0-9]*' "$OUT/fuzz-$target.log" | tail -1))"
		done
	done
}

cmd_test() {
	total_start=$(date +%s)
	mkdir -p "$OUT" "$ARTIFACTS"
	install_deps
	build_tools
	build_wasm
	run_suite static check_static
	run_suite host go test -race -count=1 -timeout 10m -v ./...
	run_suite fuzz fuzz_tests
	run_suite node wasm_tests node
	run_suite chromium wasm_tests chromium
	run_suite e2e env COMET_E2E=1 COMET_ARTIFACTS="$ARTIFACTS" CGO_ENABLED=1 \
		go test -count=1 -timeout 25m -v -run '^TestE2E' ./server
	say ""
	say "summary (logs in $OUT, screenshots in $ARTIFACTS):"
	printf '%s' "$SUMMARY"
	say "wall time: $(($(date +%s) - total_start))s"
	say "total: $TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
	[ -z "$FAILED_SUITES" ] || die "failed:$FAILED_SUITES"
}

case "${1:-}" in
wasm) build_wasm ;;
serve)
	shift
	build_wasm
	mkdir -p "$OUT"
	go build -o "$OUT/comet-server" ./server
	say "serve: starting; open the first URL below (Ctrl-C stops)"
	exec "$OUT/comet-server" "$@"
	;;
test) cmd_test ;;
wasmtest)
	[ $# -ge 2 ] || die "usage: ./build.sh wasmtest node|chromium [go test flags] [packages]"
	env=$2
	shift 2
	install_deps
	build_tools
	WASMRUN_ENV=$env COMET_SERVER_BIN="$OUT/comet-server" GOOS=js GOARCH=wasm \
		go test -count=1 -parallel $WASM_PARALLEL -exec "$OUT/wasmrun" "$@"
	;;
bench) # benchmarks → server/bench/REPORT.md (needs Chromium and brotli; the peer section builds Centrifugo from the Go module proxy into $TMPDIR, once; < 15 min). One section alone: go run ./server/bench -only peer -out /tmp/peer.md
	install_deps
	command -v brotli >/dev/null 2>&1 || apt-get install -y -qq brotli >/dev/null || die "brotli is missing: apt-get install brotli"
	shift
	go run ./server/bench -out server/bench/REPORT.md "$@"
	;;
*)
	say "usage: ./build.sh wasm | serve [server flags] | test | wasmtest ENV [args] | bench" >&2
	exit 2
	;;
esac
