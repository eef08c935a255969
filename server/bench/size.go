//go:build !js

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// sizeBudget is what the three core packages may add over the baseline.
const sizeBudget = 700_000

type sizeProgram struct {
	name, pkg, what string
}

var sizePrograms = []sizeProgram{
	{"hello", "./wasm/internal/bench/size/hello", "syscall/js hello (baseline)"},
	{"xhr", "./wasm/internal/bench/size/onlyxhr", "only wasm/xhr"},
	{"sse", "./wasm/internal/bench/size/onlysse", "only wasm/sse"},
	{"ws", "./wasm/internal/bench/size/onlyws", "only wasm/ws"},
	{"core", "./wasm/internal/bench/size/core", "wasm/xhr + wasm/sse + wasm/ws"},
	{"demo", "./wasm/demo", "the demo"},
	{"nethttp", "./wasm/internal/bench/size/nethttp", "net/http client (comparison)"},
	{"coderws", "./wasm/internal/bench/size/coderws", "coder/websocket client (comparison)"},
}

type sizes struct{ raw, gz, br int64 }

func (b *bench) sizes(ctx context.Context, sec *section) error {
	sec.printf("\nBuilt with `GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w'`; gzip -9 and brotli -q 11. Each size program is the smallest one that uses its packages' main entry points (wasm/internal/bench/size/).\n")
	// Build one after the other (go build is parallel itself), compress
	// concurrently: brotli -q 11 of the 10 MB net/http program dominates.
	type built struct {
		p    sizeProgram
		file string
		note string
		done chan struct{}
		s    sizes
		err  error
	}
	var progs []*built
	sem := make(chan struct{}, 4)
	for _, p := range sizePrograms {
		bp := &built{p: p, done: make(chan struct{})}
		progs = append(progs, bp)
		if _, err := os.Stat(filepath.Join(b.root, p.pkg)); err != nil {
			bp.note = "not built: " + p.pkg + " missing"
			close(bp.done)
			continue
		}
		bp.file = filepath.Join(b.work, "size-"+p.name+".wasm")
		if err := goBuild(ctx, b.root, wasmEnv, bp.file, p.pkg, "-trimpath", "-ldflags=-s -w"); err != nil {
			bp.note = "build failed"
			logf("%v", err)
			close(bp.done)
			continue
		}
		go func() {
			defer close(bp.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			bp.s, bp.err = measureSize(ctx, bp.file)
		}()
	}
	got := map[string]sizes{}
	var rows [][]string
	for _, bp := range progs {
		<-bp.done
		p := bp.p
		if bp.note != "" {
			rows = append(rows, []string{p.what, bp.note, "", "", "", ""})
			continue
		}
		if bp.err != nil {
			return bp.err
		}
		s := bp.s
		got[p.name] = s
		nethttp := "no"
		if imports(ctx, b.root, p.pkg, "net/http") {
			nethttp = "yes"
		}
		delta := ""
		if h, ok := got["hello"]; ok && p.name != "hello" {
			delta = fmt.Sprintf("+%s", kb(s.raw-h.raw))
		}
		rows = append(rows, []string{p.what, mb(s.raw), delta, mb(s.gz), mb(s.br), nethttp})
		logf("size %s: %d raw", p.name, s.raw)
	}
	sec.table([]string{"program", "raw", "raw over baseline", "gzip -9", "brotli", "net/http linked"}, rows)

	b.sizeBreakdown(ctx, sec)

	h, okh := got["hello"]
	core, okc := got["core"]
	if okh && okc {
		add := core.raw - h.raw
		sec.target("core packages add over the syscall/js baseline", "≤ 700 KB raw", kb(add), add <= sizeBudget)
		sec.printf("\nThe three core packages together add %s raw (%s brotli) over the baseline.\n", kb(add), kb(core.br-h.br))
	} else {
		sec.missing("core packages add over the syscall/js baseline", "≤ 700 KB raw", "core program not built yet")
	}
	var pulls []string
	checked := 0
	for _, pkg := range []string{"./wasm/xhr", "./wasm/sse", "./wasm/ws"} {
		if _, err := os.Stat(filepath.Join(b.root, pkg)); err != nil {
			continue
		}
		checked++
		if imports(ctx, b.root, pkg, "net/http") || imports(ctx, b.root, pkg, "github.com/coder/websocket") {
			pulls = append(pulls, pkg)
		}
	}
	if checked == 0 {
		sec.missing("core packages pull in no net/http", "none", "no core package yet")
	} else {
		got := fmt.Sprintf("none of the %d core packages imports them", checked)
		if len(pulls) > 0 {
			got = "imported by " + strings.Join(pulls, ", ")
		}
		sec.target("core packages pull in no net/http (nor coder/websocket)", "none", got, len(pulls) == 0)
	}
	return nil
}

// measureSize returns raw, gzip -9 and brotli -q 11 sizes.
func measureSize(ctx context.Context, file string) (sizes, error) {
	st, err := os.Stat(file)
	if err != nil {
		return sizes{}, err
	}
	s := sizes{raw: st.Size()}
	if s.gz, err = compressedSize(ctx, "gzip", "-9", "-c", file); err != nil {
		return s, err
	}
	if s.br, err = compressedSize(ctx, "brotli", "-q", "11", "-c", file); err != nil {
		return s, err
	}
	return s, nil
}

func compressedSize(ctx context.Context, name string, args ...string) (int64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var n countWriter
	cmd.Stdout = &n
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %v %s (Debian: apt-get install %s)", name, err, stderr.String(), name)
	}
	return int64(n), nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// imports reports whether pkg (built for js/wasm) depends on dep.
func imports(ctx context.Context, root, pkg, dep string) bool {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), wasmEnv...)
	out, err := cmd.Output()
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l == dep {
			return true
		}
	}
	return false
}

// sizeBreakdown builds hello and core with their name sections and lists
// what core adds, by package (code bytes), plus the data section.
func (b *bench) sizeBreakdown(ctx context.Context, sec *section) {
	per := map[string]map[string]int{}
	for _, name := range []string{"hello", "core"} {
		pkg := "./wasm/internal/bench/size/" + name
		out := filepath.Join(b.work, "names-"+name+".wasm")
		if err := goBuild(ctx, b.root, wasmEnv, out, pkg, "-trimpath"); err != nil {
			return
		}
		m, err := wasmPackages(out)
		if err != nil {
			logf("size breakdown: %v", err)
			return
		}
		per[name] = m
	}
	type add struct {
		pkg   string
		bytes int
	}
	var adds []add
	total := 0
	for pkg, n := range per["core"] {
		if d := n - per["hello"][pkg]; d != 0 {
			adds = append(adds, add{pkg, d})
			total += d
		}
	}
	slices.SortFunc(adds, func(a, b add) int { return b.bytes - a.bytes })
	var rows [][]string
	for _, a := range adds[:min(16, len(adds))] {
		rows = append(rows, []string{"`" + a.pkg + "`", fmt.Sprintf("%+.1f KB", float64(a.bytes)/1000)})
	}
	sec.printf("\nWhat the three core packages add over the baseline, by package (function bodies from the wasm name section; `(data)` is the data section: type information, pclntab, strings), %+.1f KB in all before stripping:\n", float64(total)/1000)
	sec.table([]string{"package", "added"}, rows)
}
