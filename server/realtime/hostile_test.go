//go:build !js

package realtime_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cometwasm/comet/server/realtime"
)

// TestHostileHandler attacks the library on its own, mounted as a user
// would, over loopback.
func TestHostileHandler(t *testing.T) {
	rt, err := realtime.New(realtime.Config{Origins: []string{"https://app.example"}, Hosts: []string{"api.example", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	srv := httptest.NewServer(http.StripPrefix("/realtime", rt))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	publish := `{"topic":"t","data":1}`
	for _, tc := range []struct {
		name, method, path, host, origin string
		want                             int
	}{
		// Issue 14 item 1: DNS rebinding sends Host and Origin of one name.
		{"rebound publish", "POST", "/realtime/publish", "evil.example:" + port, "http://evil.example:" + port, 421},
		{"rebound health", "GET", "/realtime/health", "evil.example:" + port, "", 421},
		{"Origin equal to a loopback Host is not configured", "POST", "/realtime/publish", "127.0.0.1:" + port, "http://127.0.0.1:" + port, 403},
		{"loopback Host without Origin", "POST", "/realtime/publish", "127.0.0.1:" + port, "", 200},
		{"configured host and origin", "POST", "/realtime/publish", "api.example", "https://app.example", 200},
		{"configured host, rebound origin", "POST", "/realtime/publish", "api.example", "http://api.example.evil.example", 403},
		// Issue 14 item 5: 2^58+1000 ms is 1 s after the int64 wrap.
		{"long poll timeout overflow", "GET", "/realtime/longpoll?topic=t&cursor=0-0&timeout=288230376151712744", "127.0.0.1:" + port, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader(publish)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tc.host
			req.Header.Set("Content-Type", "application/json")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d %s, want %d", resp.StatusCode, b, tc.want)
			}
		})
	}
}
