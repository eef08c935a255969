//go:build !js

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/cometwasm/comet/server/internal/loopback"
)

// Centrifugo, the peer the bench compares the server with. It is built
// from the Go module proxy at bench time into a folder under the temp
// dir (kept there, so a rerun starts at once); nothing of it is in this
// repository or its go.mod.
const (
	centrifugoModule  = "github.com/centrifugal/centrifugo/v6"
	centrifugoVersion = "v6.9.1"
)

// buildCentrifugo returns the cached binary, or builds it with
// `go install module@version` outside this module.
func buildCentrifugo(ctx context.Context) (bin string, built time.Duration, err error) {
	dir := filepath.Join(os.TempDir(), "comet-bench-centrifugo-"+centrifugoVersion)
	bin = filepath.Join(dir, "centrifugo")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, 0, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", 0, err
	}
	defer os.RemoveAll(tmp)
	t := time.Now()
	// ~40 s with a warm build cache; 9 min here with a cold one on 2
	// busy cores. Keep 3 min of the run's deadline for the measuring.
	budget := 10 * time.Minute
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-3*time.Minute)
	}
	if budget <= 0 {
		return "", 0, errors.New("no time left in this run to build it")
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", centrifugoModule+"@"+centrifugoVersion)
	cmd.Dir = tmp // outside any module: go.mod of this repo is not touched
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return "", 0, fmt.Errorf("go install %s@%s did not finish within %s (cold caches?); what it compiled stays in the build cache, so a rerun gets further", centrifugoModule, centrifugoVersion, budget.Round(time.Second))
		}
		return "", 0, fmt.Errorf("go install %s@%s: %v: %s", centrifugoModule, centrifugoVersion, err, lastLines(out, 3))
	}
	if err := os.Rename(filepath.Join(tmp, "centrifugo"), bin); err != nil {
		return "", 0, err
	}
	return bin, time.Since(t), nil
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte(" / ")))
}

// centrifugo runs and speaks to Centrifugo: its bidirectional JSON
// protocol on /connection/websocket, uni-directional SSE on
// /connection/uni_sse, and the HTTP API's /api/publish.
type centrifugo struct {
	bin, work string
	apiKey    string
	runs      int
}

func newCentrifugo(bin, work string) *centrifugo {
	key := make([]byte, 16)
	rand.Read(key)
	return &centrifugo{bin: bin, work: work, apiKey: hex.EncodeToString(key)}
}

func (*centrifugo) name() string { return "Centrifugo " + centrifugoVersion }

// config is the generated configuration: anonymous clients without a
// token (client.allow_anonymous_connect_without_token, and the channels
// without namespace allow subscribing for anonymous clients), history of
// 1,000 publications for 5 minutes with forced recovery, the uni SSE and
// uni WebSocket transports on, the HTTP API with a random key, logs at error level, no
// usage stats. Everything else is Centrifugo's default (ping every 25s).
func (c *centrifugo) config(port int) []byte {
	cfg := map[string]any{
		"http_server":   map[string]any{"address": "127.0.0.1", "port": port},
		"log":           map[string]any{"level": "error"},
		"usage_stats":   map[string]any{"disabled": true},
		"health":        map[string]any{"enabled": true},
		"http_api":      map[string]any{"key": c.apiKey},
		"uni_sse":       map[string]any{"enabled": true},
		"uni_websocket": map[string]any{"enabled": true},
		"client": map[string]any{
			"allow_anonymous_connect_without_token": true,
			"allowed_origins":                       []string{"http://127.0.0.1"},
		},
		"channel": map[string]any{"without_namespace": map[string]any{
			"allow_subscribe_for_client":    true,
			"allow_subscribe_for_anonymous": true,
			"history_size":                  1000,
			"history_ttl":                   "300s",
			"force_recovery":                true,
		}},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return b
}

func (c *centrifugo) start(ctx context.Context) (*peerServer, error) {
	port, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	c.runs++
	dir := filepath.Join(c.work, fmt.Sprintf("centrifugo-%d", c.runs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "config.json")
	if err := os.WriteFile(conf, c.config(port), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, c.bin, "--config", conf)
	cmd.Dir = dir
	if os.Getenv("BENCH_VERBOSE") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &peerServer{pid: cmd.Process.Pid, host: host, stop: stop}, nil
			}
		}
		select {
		case <-done:
			return nil, errors.New("centrifugo exited before serving (BENCH_VERBOSE=1 shows its log)")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("centrifugo did not answer /health within 30s")
		}
	}
}

func (*centrifugo) marker(string) string { return `"pub"` }

// dialWS connects and subscribes in one frame ({"id":1,"connect":{}} and
// {"id":2,"subscribe":…}, recovering from pos when it is set) and
// returns once the subscribe reply has come. Every message of a frame
// (one per line) but the connect reply goes to fn, the subscribe reply
// (with any recovered publications) included; pings ({}) are answered.
func (c *centrifugo) dialWS(ctx context.Context, s *peerServer, topic string, pos *peerPos, fn onMsg) (*capClient, error) {
	sub := map[string]any{"channel": topic}
	if pos != nil {
		sub["recover"], sub["epoch"], sub["offset"] = true, pos.epoch, pos.offset
	}
	subCmd, _ := json.Marshal(map[string]any{"id": 2, "subscribe": sub})
	hello := append([]byte(`{"id":1,"connect":{"name":"comet-bench"}}`+"\n"), subCmd...)
	ready := func(p []byte) (bool, error) {
		for line := range bytes.Lines(p) {
			if bytes.HasPrefix(line, []byte(`{"id":`)) && bytes.Contains(line, []byte(`"error"`)) {
				return false, fmt.Errorf("centrifugo: %s", bytes.TrimSpace(line))
			}
			if bytes.HasPrefix(line, []byte(`{"id":2,`)) {
				return true, nil
			}
		}
		return false, nil
	}
	return dialWSUntil(ctx, s.host, "/connection/websocket", hello, ready, func(cl *capClient, p []byte, wire int, at time.Time) {
		for line := range bytes.Lines(p) {
			line = bytes.TrimSpace(line)
			switch {
			case bytes.Equal(line, []byte("{}")):
				cl.writeWS(0x1, []byte("{}"))
			case !bytes.HasPrefix(line, []byte(`{"id":1,`)):
				fn(cl, line, wire, at)
			}
		}
	})
}

// dialSSE opens uni-directional SSE with the connect request in the URL
// (cf_connect={"subs":{topic:{}}}: the server-side subscriptions asked
// for) and returns after the connect push.
func (c *centrifugo) dialSSE(ctx context.Context, s *peerServer, topic string, fn onMsg) (*capClient, error) {
	return dialSSEFunc(ctx, s.host, "/connection/uni_sse?cf_connect="+connectSubs(topic), []byte(`"connect"`), fn)
}

// dialUniWS opens the uni-directional WebSocket with the connect request
// in the URL, as dialSSE does, and returns after the connect push.
func (c *centrifugo) dialUniWS(ctx context.Context, s *peerServer, topic string, fn onMsg) (*capClient, error) {
	ready := func(p []byte) (bool, error) { return bytes.Contains(p, []byte(`"connect"`)), nil }
	return dialWSUntil(ctx, s.host, "/connection/uni_websocket?cf_connect="+connectSubs(topic), nil, ready, fn)
}

// connectSubs is a uni-directional connect request asking for a
// server-side subscription to topic, escaped for a URL.
func connectSubs(topic string) string {
	req, _ := json.Marshal(map[string]any{"subs": map[string]any{topic: map[string]any{}}})
	return url.QueryEscape(string(req))
}

// publisher returns a publish func over HTTP keep-alive connections
// (up to conns at once): POST /api/publish with the API key.
func (c *centrifugo) publisher(s *peerServer, conns int) func(ctx context.Context, topic string, data []byte) error {
	hc := keepAliveClient(conns)
	return func(ctx context.Context, topic string, data []byte) error {
		body, _ := json.Marshal(map[string]any{"channel": topic, "data": json.RawMessage(data)})
		req, err := newJSONRequest(ctx, "http://"+s.host+"/api/publish", body)
		if err != nil {
			return err
		}
		req.Header.Set("X-API-Key", c.apiKey)
		b, err := doRequest(hc, req)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(`"error"`)) {
			return fmt.Errorf("centrifugo publish: %s", b)
		}
		return nil
	}
}

// decode returns the publications in one push or subscribe reply, and
// the epoch when the message names it.
func (*centrifugo) decode(p []byte) (pubs []peerPub, epoch string, err error) {
	type pub struct {
		Data   json.RawMessage `json:"data"`
		Offset uint64          `json:"offset"`
	}
	var m struct {
		Push *struct {
			Pub *pub `json:"pub"`
		} `json:"push"`
		Subscribe *struct {
			Epoch        string `json:"epoch"`
			Publications []pub  `json:"publications"`
			Recovered    bool   `json:"recovered"`
		} `json:"subscribe"`
	}
	if err := json.Unmarshal(p, &m); err != nil {
		return nil, "", err
	}
	var list []pub
	switch {
	case m.Push != nil && m.Push.Pub != nil:
		list = []pub{*m.Push.Pub}
	case m.Subscribe != nil:
		list, epoch = m.Subscribe.Publications, m.Subscribe.Epoch
	}
	for _, x := range list {
		i, err := payloadIndex(x.Data)
		if err != nil {
			return nil, "", err
		}
		pubs = append(pubs, peerPub{i: i, offset: x.Offset})
	}
	return pubs, epoch, nil
}

// keepAliveClient is an HTTP client that keeps up to conns connections
// to one host.
func keepAliveClient(conns int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
}

// doRequest runs req and returns the body of a 200 answer.
func doRequest(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

func newJSONRequest(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
