//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cometwasm/comet/server/internal/browser"
)

// testCert is a certificate for 127.0.0.1 made at test time, signed by a
// test CA, in PEM files.
type testCert struct {
	certFile, keyFile string
	pool              *x509.CertPool // trusts the test CA
	spki              string         // base64 SHA-256 of the leaf's public key, for Chromium
}

func newTestCert(t testing.TB) testCert {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "comet test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	must(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	tc := testCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	must(t, os.WriteFile(tc.certFile, chain, 0o600))
	must(t, os.WriteFile(tc.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	tc.pool.AddCert(caCert)
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	must(t, err)
	sum := sha256.Sum256(spki)
	tc.spki = base64.StdEncoding.EncodeToString(sum[:])
	return tc
}

// runServer runs the server's run with args (plus a loopback -addr and no
// second origin) until the test ends, and returns the URL it serves.
func runServer(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	args = append([]string{"-addr", "127.0.0.1:0", "-addr2", "", "-public", filepath.Join("..", "public"), "-data", t.TempDir()}, args...)
	go func() { done <- run(ctx, args, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	line := regexp.MustCompile(`^comet: serving (\S+) `)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, pr)
			return m[1]
		}
	}
	t.Fatalf("server ended before serving: %v", <-done)
	return ""
}

func TestRunFlags(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"-tls-cert", cert.certFile}, "go together"},
		{"key without cert", []string{"-tls-key", cert.keyFile}, "go together"},
		{"missing files", []string{"-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.key"}, "-tls-cert/-tls-key"},
		{"key for the wrong cert", []string{"-tls-cert", cert.certFile, "-tls-key", cert.certFile}, "-tls-cert/-tls-key"},
		{"public origin with a path", []string{"-public-origin", "https://app.example/x"}, "-public-origin"},
		{"public origin wildcard", []string{"-public-origin", "*"}, "-public-origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0", "-addr2", ""}, tc.args...), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestRunTLS serves HTTPS with a certificate made here and checks that a
// Go client gets HTTP/2 and an SSE stream over it.
func TestRunTLS(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t)
	url := runServer(t, "-tls-cert", cert.certFile, "-tls-key", cert.keyFile)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("serving %q, want https://127.0.0.1:…", url)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, err := c.Get(url + "/healthz")
	must(t, err)
	resp.Body.Close()
	equal(t, "status", resp.StatusCode, 200)
	equal(t, "protocol", resp.Proto, "HTTP/2.0")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/realtime/sse?topic=tls-go", nil)
	resp, err = c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	equal(t, "SSE protocol", resp.Proto, "HTTP/2.0")
	publish(t, c, url, "tls-go", `{"n":1}`)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"n":1`) {
			return
		}
	}
	t.Fatalf("SSE over HTTP/2 ended without the message: %v", sc.Err())
}

// publish POSTs one message of type "note" to topic.
func publish(t testing.TB, c *http.Client, url, topic, data string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"topic": topic, "type": "note", "data": json.RawMessage(data)})
	resp, err := c.Post(url+"/realtime/publish", "application/json", bytes.NewReader(body))
	must(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("publish to %s: %d %s", topic, resp.StatusCode, msg)
	}
}

// TestE2ETLS opens a page over HTTPS in Chromium (trusting the test
// certificate by its key's hash only) and holds 10 SSE subscriptions while
// 10 XHRs run: over HTTP/1.1 the 7th stream would wait for a free
// connection; over HTTP/2 none stalls. A wss: WebSocket beside them gets
// its message too.
func TestE2ETLS(t *testing.T) {
	if os.Getenv("COMET_E2E") == "" {
		t.Skip("browser end-to-end test: set COMET_E2E=1 (./build.sh test does)")
	}
	t.Parallel()
	cert := newTestCert(t)
	url := runServer(t, "-tls-cert", cert.certFile, "-tls-key", cert.keyFile)
	ctx, cancel, err := browser.NewWithFlags(context.Background(), map[string]any{
		"ignore-certificate-errors-spki-list": cert.spki,
	})
	must(t, err)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatal(err)
	}
	const n = 10
	start := fmt.Sprintf(`(() => {
		window.tlsTest = {open: 0, got: 0, errors: [], xhr: []};
		for (let i = 0; i < %d; i++) {
			const es = new EventSource('/realtime/sse?topic=tls-' + i);
			es.onopen = () => tlsTest.open++;
			es.onerror = () => tlsTest.errors.push('sse ' + i + ' state ' + es.readyState);
			es.addEventListener('note', () => { tlsTest.got++; es.close(); });
		}
		// And a WebSocket (wss:, its own HTTP/1.1 connection) beside them.
		tlsTest.ws = 'connecting';
		const ws = new WebSocket('wss://' + location.host + '/ws/realtime?topic=tls-ws');
		ws.onmessage = (e) => {
			const type = JSON.parse(e.data).type;
			if (type === '_open') tlsTest.ws = 'open';
			if (type === 'note') { tlsTest.ws = 'message'; ws.close(); }
		};
		ws.onerror = () => tlsTest.errors.push('ws error');
		return true;
	})()`, n)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](start)); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(tlsTest)`))
			t.Fatalf("waiting for %s: %v (page: %s)", what, err, state)
		}
	}
	poll("10 open SSE streams", fmt.Sprintf(`tlsTest.open === %d`, n))
	// With every stream open, 10 XHRs at once.
	xhrs := fmt.Sprintf(`(() => {
		for (let i = 0; i < %d; i++) {
			const x = new XMLHttpRequest();
			x.open('GET', '/healthz?xhr=' + i);
			x.onload = () => tlsTest.xhr.push(x.status);
			x.onerror = () => tlsTest.errors.push('xhr ' + i);
			x.send();
		}
		return true;
	})()`, n)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](xhrs)); err != nil {
		t.Fatal(err)
	}
	poll("10 XHRs beside 10 streams", fmt.Sprintf(`tlsTest.xhr.length === %d`, n))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.pool}}, Timeout: 30 * time.Second}
	for i := range n {
		publish(t, c, url, fmt.Sprintf("tls-%d", i), `{"hello":true}`)
	}
	poll("a message on each of the 10 streams", fmt.Sprintf(`tlsTest.got === %d`, n))
	poll("the wss: subscription open", `tlsTest.ws === 'open'`)
	publish(t, c, url, "tls-ws", `{"hello":"ws"}`)
	poll("a message over wss:", `tlsTest.ws === 'message'`)

	var res struct {
		Nav    string   `json:"nav"`
		XHR    []string `json:"xhr"`
		Status []int    `json:"status"`
		Errors []string `json:"errors"`
	}
	js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		nav: performance.getEntriesByType('navigation')[0].nextHopProtocol,
		xhr: performance.getEntriesByType('resource').filter(e => e.name.includes('/healthz?xhr=')).map(e => e.nextHopProtocol),
		status: tlsTest.xhr, errors: tlsTest.errors})`))
	must(t, err)
	must(t, json.Unmarshal([]byte(js), &res))
	t.Logf("page over %s; XHR protocols %v; errors %v", res.Nav, res.XHR, res.Errors)
	equal(t, "navigation protocol", res.Nav, "h2")
	equal(t, "XHR entries", len(res.XHR), n)
	for i, p := range res.XHR {
		equal(t, fmt.Sprintf("XHR %d protocol", i), p, "h2")
		equal(t, fmt.Sprintf("XHR %d status", i), res.Status[i], 200)
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors on the page: %v", errors.New(strings.Join(res.Errors, "; ")))
	}
}

// TestRunPublicOrigin runs the server as if behind a proxy at
// https://app.example: requests from that origin are trusted wherever they
// arrive, and the page's CSP names it; other origins stay refused.
func TestRunPublicOrigin(t *testing.T) {
	t.Parallel()
	url := runServer(t, "-public-origin", "https://App.Example/")
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://app.example", 200},
		{"https://evil.example", 403},
		{"http://app.example", 403}, // the scheme is part of the origin
	} {
		t.Run(tc.origin, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", url+"/realtime/poll?topic=public", nil)
			req.Header.Set("Origin", tc.origin)
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			equal(t, "status", resp.StatusCode, tc.want)
			if tc.want == 200 {
				equal(t, "Access-Control-Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), tc.origin)
			}
		})
	}
	resp, body := get(t, url+"/demo/config")
	equal(t, "status", resp.StatusCode, 200)
	if !strings.Contains(string(body), `"pageOrigin":"https://app.example"`) {
		t.Errorf("demo config %s: want the public origin as the page's", body)
	}
}
