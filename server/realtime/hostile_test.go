//go:build !js

package realtime_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
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

// post publishes body to rt's server and returns the status and body.
func post(t *testing.T, srv *httptest.Server, body string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+"/realtime/publish", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostileTopicQuota: one client cannot take the topic table (issue
// 14 item 12): past NewTopicBurst new topics it gets 429, while
// publishing to its existing topics goes on.
func TestHostileTopicQuota(t *testing.T) {
	rt, err := realtime.New(realtime.Config{NewTopicBurst: 5, NewTopicRate: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	srv := httptest.NewServer(http.StripPrefix("/realtime", rt))
	defer srv.Close()
	for i := range 5 {
		if code, b := post(t, srv, `{"topic":"q`+strconv.Itoa(i)+`","data":1}`); code != 200 {
			t.Fatalf("new topic %d: %d %s", i, code, b)
		}
	}
	if code, b := post(t, srv, `{"topic":"q5","data":1}`); code != 429 || !strings.Contains(b, "too many new topics") {
		t.Errorf("sixth new topic: %d %s, want 429", code, b)
	}
	if code, b := post(t, srv, `{"topic":"q0","data":2}`); code != 200 {
		t.Errorf("an existing topic: %d %s", code, b)
	}
}

// TestHostileHistoryBytes: history is bounded in bytes per topic and in
// total (issue 14 item 11): big publishes evict the oldest, and a reader
// from the start gets an "evicted" gap.
func TestHostileHistoryBytes(t *testing.T) {
	const perTopic, total = 1 << 20, 2 << 20
	rt, err := realtime.New(realtime.Config{MaxBody: 2 << 20, Limits: broker.Limits{HistoryBytes: perTopic, TotalHistoryBytes: total}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	srv := httptest.NewServer(http.StripPrefix("/realtime", rt))
	defer srv.Close()
	msg := `{"data":"` + strings.Repeat("x", 60<<10) + `"}`
	batch := `[` + strings.TrimSuffix(strings.Repeat(msg+",", 16), ",") + `]`
	var first string // the cursor before big0's first message
	for i := range 12 {
		code, b := post(t, srv, `{"topic":"big`+strconv.Itoa(i)+`","messages":`+batch+`}`)
		if code != 200 {
			t.Fatalf("publish %d: %d %.200s", i, code, b)
		}
		if i == 0 {
			var rep struct{ Cursor string }
			json.Unmarshal([]byte(b), &rep)
			first = strings.Split(rep.Cursor, "-")[0] + "-0"
		}
	}
	held := rt.Broker().(*memory.Broker).HistoryBytes()
	t.Logf("12 publishes of 16 x 60 KiB: %d bytes of history held (bound %d)", held, total)
	if held > total {
		t.Errorf("%d bytes held, bound %d", held, total)
	}
	resp, err := srv.Client().Get(srv.URL + "/realtime/poll?topic=big0&cursor=" + first)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"reason":"evicted"`) {
		t.Errorf("poll from the start of an evicted topic: %d %.300s", resp.StatusCode, b)
	}
}
