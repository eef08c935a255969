//go:build !js

package main

import (
	"net/http"
	"strings"
	"testing"
)

// issue14Cases are the attacks of issue 14 that fit the shared table
// (hostileConfig); the ones that need their own server follow as tests.
func issue14Cases() []hostileCase {
	get := func(path string, headers ...string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL+strings.ReplaceAll(path, "HEAD", headCursor(t, ts)), "", headers...)
		}
	}
	return []hostileCase{
		// Item 5: 2^58+1000 ms overflows time.Duration to 1 s.
		{name: "14.5 long poll timeout past int64 nanoseconds", attack: get("/realtime/longpoll?topic=h14&cursor=HEAD&timeout=288230376151712744"),
			want: outcome{400, "timeout: want milliseconds in [10, 120000]"}},
		{name: "14.5 stream heartbeat past int64 nanoseconds", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			got, resp := streamHeaders(t, ts.URL+"/realtime/stream?topic=h14&heartbeat=288230376151711844")
			if got.status == 400 {
				return send(t, "GET", ts.URL+"/realtime/stream?topic=h14&heartbeat=288230376151711844", "")
			}
			return got, resp
		},
			want: outcome{400, "heartbeat: want milliseconds in [50, 60000]"}},
		{name: "14.5 WebSocket heartbeat past int64 nanoseconds", attack: get("/realtime/ws?topic=h14&heartbeat=288230376151711844"),
			want: outcome{400, "heartbeat: want milliseconds in [50, 60000]"}},
		{name: "14.5 xhr delay past int64 nanoseconds", attack: get("/api/ajax3?delay=9223372036855"),
			want: outcome{400, "delay: want milliseconds from 0 to 30000"}},
		{name: "14.5 countdown interval past int64 nanoseconds", attack: get("/realtime/countdown?interval=288230376151712744"),
			want: outcome{400, "interval: want milliseconds in [10, 60000]"}},
		// Item 6: RFC 9110 §14.1.1: a suffix range of length 0 is unsatisfiable.
		{name: "14.6 Range bytes=-0 on a static file", attack: get("/index.html", "Range", "bytes=-0"),
			want: outcome{416, ""}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
				if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, "bytes */") {
					t.Errorf("Content-Range %q, want bytes */SIZE", cr)
				}
			}},
		{name: "14.6 Range bytes=-0 beside a satisfiable range", attack: get("/index.html", "Range", "bytes=-0,0-1"),
			want: outcome{206, ""}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
				if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, "bytes 0-1/") {
					t.Errorf("Content-Range %q, want bytes 0-1/SIZE", cr)
				}
			}},
	}
}

// headCursor is the head of topic h14 as a cursor string.
func headCursor(t *testing.T, ts *testServer) string {
	c, err := ts.hub.Head("h14")
	must(t, err)
	return c.String()
}
