//go:build !js

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cometwasm/comet/server/internal/browser"
	"github.com/cometwasm/comet/server/internal/nginxproc"
	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/internal/serverproc"
)

// cluster is nginx in front of comet nodes (the server binary, each its
// own process on a fixed loopback port, so a killed node comes back where
// nginx expects it).
type cluster struct {
	t      testing.TB
	bin    string
	public string   // the probe page
	args   []string // every node's extra flags (the broker)
	nginx  *nginxproc.Server
	nodes  []*clusterNode
	client *http.Client
	logf   func(string, ...any) // the whole test's t.Logf
}

type clusterNode struct {
	addr string
	data string // -data folder
	mu   sync.Mutex
	proc *serverproc.Proc // nil while down
}

func (n *clusterNode) url() string { return "http://" + n.addr }

// buildForCluster builds the server binary (or takes $COMET_SERVER_BIN)
// and the probe page (wasm/internal/probe) into temp folders.
func buildForCluster(t testing.TB) (bin, public string) {
	t.Helper()
	dir := t.TempDir()
	bin = os.Getenv("COMET_SERVER_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "comet-server")
		goBuild(t, nil, "-o", bin, "./server")
	}
	public = filepath.Join(dir, "public")
	must(t, os.Mkdir(public, 0o755))
	goBuild(t, []string{"GOOS=js", "GOARCH=wasm"}, "-trimpath", "-o", filepath.Join(public, "probe.wasm"), "./wasm/internal/probe")
	wasmExec, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(public, "wasm_exec.js"), wasmExec, 0o644))
	must(t, os.WriteFile(filepath.Join(public, "probe.html"), []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>comet probe</title>
<script src="wasm_exec.js" defer></script><script src="probe.js" defer></script>
</head><body><p>probe</p></body></html>
`), 0o644))
	must(t, os.WriteFile(filepath.Join(public, "probe.js"), []byte(`const go = new Go();
WebAssembly.instantiateStreaming(fetch("probe.wasm"), go.importObject)
	.then((r) => go.run(r.instance))
	.catch((e) => { window.probeFailed = String(e); });
`), 0o644))
	return bin, public
}

// goBuild runs go build in the repository root.
func goBuild(t testing.TB, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().String()
}

// newCluster starts nginx and n nodes with args (e.g. -broker), stopped
// when t ends.
func newCluster(t testing.TB, bin, public string, n int, args ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: bin, public: public, args: args, logf: t.Logf,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	var ups []string
	for range n {
		a := freeAddr(t)
		ups = append(ups, a)
		c.nodes = append(c.nodes, &clusterNode{addr: a, data: t.TempDir()})
	}
	c.nginx = nginxproc.ForTest(t, nginxproc.Config{Upstreams: ups})
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.mu.Lock()
			if nd.proc != nil {
				nd.proc.Stop()
			}
			nd.mu.Unlock()
		}
		c.client.CloseIdleConnections()
	})
	for _, nd := range c.nodes {
		must(t, c.start(nd))
	}
	return c
}

// start runs nd's process on its address. The page's origin is nginx's.
func (c *cluster) start(nd *clusterNode) error {
	args := append([]string{"-addr", nd.addr, "-addr2", "", "-public", c.public, "-data", nd.data,
		"-public-origin", c.nginx.URL(), "-max-streams-per-ip", "20000",
		// History covers a whole run: a subscriber that reconnects late
		// must find its messages, not an (explicit) eviction gap.
		"-history", "20000"}, c.args...)
	var last error
	for range 50 { // the port of a killed node may linger a moment
		p, err := serverproc.Start(context.Background(), c.bin, logWriter{c.logf, nd.addr}, args...)
		if err == nil {
			nd.mu.Lock()
			nd.proc = p
			nd.mu.Unlock()
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("node %s: %w", nd.addr, last)
}

// kill ends nd with SIGKILL.
func (c *cluster) kill(nd *clusterNode) {
	nd.mu.Lock()
	p := nd.proc
	nd.proc = nil
	nd.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// logWriter passes a node's log lines to t.Log when COMET_CLUSTER_LOG is
// set, and drops them otherwise.
type logWriter struct {
	logf func(string, ...any)
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	if os.Getenv("COMET_CLUSTER_LOG") != "" {
		w.logf("node %s: %s", w.name, bytes.TrimSpace(p))
	}
	return len(p), nil
}

// publish appends {"seq": seq} to topic on node i (or the next that
// answers), retrying with one Idempotency-Key until some node answers 200:
// a retry after a node died mid-publish cannot append twice.
func (c *cluster) publish(ctx context.Context, i int, topic, key string, seq int) (cursor string, err error) {
	body, _ := json.Marshal(map[string]any{"topic": topic, "type": "seq", "data": map[string]int{"seq": seq}})
	for try := 0; ; try++ {
		nd := c.nodes[(i+try)%len(c.nodes)]
		req, _ := http.NewRequestWithContext(ctx, "POST", nd.url()+"/realtime/publish", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := c.client.Do(req)
		if err == nil {
			var reply struct {
				Cursor string `json:"cursor"`
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && json.Unmarshal(msg, &reply) == nil {
				return reply.Cursor, nil
			}
			err = fmt.Errorf("publish %d on %s: %d %s", seq, nd.addr, resp.StatusCode, bytes.TrimSpace(msg))
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("publish %d: %w (last: %v)", seq, ctx.Err(), err)
		}
		if try%len(c.nodes) == len(c.nodes)-1 {
			time.Sleep(50 * time.Millisecond) // every node refused: Redis may be restarting
		}
	}
}

// subscriberNode returns the node serving the page's subscription: for
// poll, the upstream of the last poll in nginx's access log; otherwise
// the one node whose /healthz counts a subscriber.
func (c *cluster) subscriberNode(ctx context.Context, transport string) (*clusterNode, error) {
	for ctx.Err() == nil {
		if transport == "poll" {
			if addr := lastUpstream(c.nginx.AccessLog(), "/realtime/poll?"); addr != "" {
				for _, nd := range c.nodes {
					if nd.addr == addr {
						return nd, nil
					}
				}
			}
		} else {
			var found []*clusterNode
			for _, nd := range c.nodes {
				var h struct {
					Subscribers int `json:"subscribers"`
				}
				resp, err := c.client.Get(nd.url() + "/healthz")
				if err != nil {
					continue
				}
				json.NewDecoder(resp.Body).Decode(&h)
				resp.Body.Close()
				if h.Subscribers > 0 {
					found = append(found, nd)
				}
			}
			if len(found) == 1 {
				return found[0], nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("no node serves the %s subscriber: %w", transport, ctx.Err())
}

// lastUpstream returns the upstream of the last request in the access log
// whose URI starts with prefix.
func lastUpstream(log, prefix string) string {
	b, err := os.ReadFile(log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i]) // msec status method uri upstream
		if len(f) == 5 && f[1] == "200" && strings.HasPrefix(f[3], prefix) {
			return f[4]
		}
	}
	return ""
}

// probeState is window.probeState's JSON (wasm/internal/probe).
type probeState struct {
	Ready    bool     `json:"ready"`
	Seqs     []int    `json:"seqs"`
	Count    int      `json:"count"`
	Last     int      `json:"last"`
	Gaps     []string `json:"gaps"`
	Switches []string `json:"switches"`
	Err      string   `json:"err"`
	Active   string   `json:"active"`
	Stats    struct {
		Messages, Duplicates, Reconnects, Opens, Switches int
	} `json:"stats"`
}

// probe is one page of the probe in its own tab.
type probe struct {
	ctx context.Context
	t   testing.TB
}

func (c *cluster) openProbe(bctx context.Context, transport, topic, from string) *probe {
	c.t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	c.t.Cleanup(cancel)
	u := fmt.Sprintf("%s/probe.html?topic=%s&transport=%s&from=%s", c.nginx.URL(), topic, transport, from)
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		c.t.Fatal(err)
	}
	p := &probe{ctx: ctx, t: c.t}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`typeof probeState === "function" || !!window.probeFailed`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		c.t.Fatalf("probe page did not start: %v", err)
	}
	return p
}

func (p *probe) state(full bool) probeState {
	p.t.Helper()
	js, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`window.probeFailed ? JSON.stringify({err: probeFailed}) : probeState(%v)`, full)))
	must(p.t, err)
	var st probeState
	must(p.t, json.Unmarshal([]byte(js), &st))
	return st
}

// waitCount waits until the probe holds want messages, or made no
// progress for stall.
func (p *probe) waitCount(want int, stall time.Duration) probeState {
	p.t.Helper()
	last, since := -1, time.Now()
	for {
		st := p.state(false)
		if st.Err != "" || st.Count >= want {
			return st
		}
		if st.Count != last {
			last, since = st.Count, time.Now()
		} else if time.Since(since) > stall {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// delivery is what a probe received of seqs 1..n: lost, duplicated, and
// out of order (a seq not above the one before).
type delivery struct {
	Messages, Received, Lost, Duplicated, OutOfOrder int
}

func checkDelivery(seqs []int, n int) delivery {
	d := delivery{Messages: n, Received: len(seqs)}
	seen := map[int]bool{}
	prev := 0
	for _, s := range seqs {
		if seen[s] {
			d.Duplicated++
		}
		seen[s] = true
		if s <= prev {
			d.OutOfOrder++
		}
		prev = s
	}
	for s := 1; s <= n; s++ {
		if !seen[s] {
			d.Lost++
		}
	}
	return d
}

// startSeq publishes seq 0 and returns its cursor: the probe starts after
// it, so every later message comes from history or live, never missed
// because the page was slower than the publisher.
func (c *cluster) startSeq(ctx context.Context, topic string) string {
	c.t.Helper()
	cur, err := c.publish(ctx, 0, topic, topic+"-0", 0)
	must(c.t, err)
	return cur
}

// TestE2EClusterKill runs the probe page through nginx in front of 3 comet
// nodes, publishes 5,000 messages spread over every node, and kill -9s the
// node serving the subscriber 5 times (restarting it each time), for each
// transport alone and for the default fallback: nothing lost, nothing
// duplicated, all in order.
func TestE2EClusterKill(t *testing.T) {
	if os.Getenv("COMET_E2E") == "" {
		t.Skip("browser end-to-end test: set COMET_E2E=1 (./build.sh test does)")
	}
	rd := redisproc.ForTest(t, redisproc.Config{AppendOnly: true})
	bin, public := buildForCluster(t)
	c := newCluster(t, bin, public, 3, "-broker", rd.URL(0))
	bctx, cancel, err := browser.New(context.Background())
	must(t, err)
	defer cancel()
	const messages, kills = 5000, 5
	var table []string
	for _, tr := range []string{"ws", "sse", "stream", "longpoll", "poll", "default"} {
		t.Run(tr, func(t *testing.T) {
			c.t = t
			ctx, cancelRun := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancelRun()
			topic := fmt.Sprintf("kill-%s-%d", tr, time.Now().UnixNano())
			p := c.openProbe(bctx, tr, topic, c.startSeq(ctx, topic))
			done, err := c.publishWithKills(ctx, p, tr, topic, messages, kills)
			if err != nil {
				t.Fatal(err)
			}
			st := p.waitCount(messages, 30*time.Second)
			full := p.state(true)
			d := checkDelivery(full.Seqs, messages)
			row := fmt.Sprintf("%-9s %8d %6d %5d %10d %12d %5d %12d", tr, d.Messages, done, d.Lost, d.Duplicated, d.OutOfOrder, len(full.Gaps), full.Stats.Duplicates)
			table = append(table, row)
			t.Logf("%s: %+v; active %s, %d switches, stats %+v, err %q", tr, d, st.Active, len(full.Switches), full.Stats, full.Err)
			if d.Lost != 0 || d.Duplicated != 0 || d.OutOfOrder != 0 || len(full.Gaps) != 0 || done != kills {
				t.Errorf("%s: %+v, %d kills, %d gaps %.300s, err %q, switches %.500s", tr, d, done, len(full.Gaps), strings.Join(full.Gaps, " "), full.Err, strings.Join(full.Switches, "; "))
			}
		})
	}
	t.Logf("transport  messages  kills  lost  duplicated  out-of-order  gaps  dup-skipped\n%s", strings.Join(table, "\n"))
}

// publishWithKills publishes seqs 1..n round robin over the nodes; after
// each n/(kills+1) it kill -9s the node serving the probe and restarts it,
// while publishing goes on. It returns how many kills it did.
func (c *cluster) publishWithKills(ctx context.Context, p *probe, transport, topic string, n, kills int) (int, error) {
	every := n / (kills + 1)
	var killWG sync.WaitGroup
	done := 0
	var killErr error
	var mu sync.Mutex
	for seq := 1; seq <= n; seq++ {
		if seq%every == 0 && seq/every <= kills {
			killWG.Wait() // one kill at a time, spread over the run
			mu.Lock()
			if killErr != nil {
				mu.Unlock()
				return done, killErr
			}
			mu.Unlock()
			killWG.Go(func() {
				// Let the probe catch up first, so the kill cuts a
				// subscriber that is receiving, not one still connecting.
				p2 := p.waitCount(seq-every/2, 20*time.Second)
				fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				nd, err := c.subscriberNode(fctx, transport)
				cancel()
				if err == nil {
					c.logf("kill %d: node %s serves the %s subscriber (probe at %d of %d; triggered at publish %d)", done+1, nd.addr, transport, p2.Count, n, seq)
					c.kill(nd)
					err = c.start(nd)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					killErr = fmt.Errorf("kill %d (probe at %d, active %q, err %q, %d gaps %.300s): %w", done+1, p2.Count, p2.Active, p2.Err, len(p2.Gaps), strings.Join(p2.Gaps, " "), err)
					return
				}
				done++
			})
		}
		if _, err := c.publish(ctx, seq, topic, fmt.Sprintf("%s-%d", topic, seq), seq); err != nil {
			return done, err
		}
	}
	killWG.Wait()
	return done, killErr
}
