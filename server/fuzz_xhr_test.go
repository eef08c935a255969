//go:build !js

package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzJSONPCallback asks the real handler for any callback: it answers
// 400 with a JSON error, or 200 with JavaScript that starts with a safe
// callback (identifiers joined by dots) followed by "(".
func FuzzJSONPCallback(f *testing.F) {
	for _, s := range []string{"cb", "a.b.c", "alert(1)//", "$._", "a..b", ".a", "a.", "1a", "a-b", "</script>",
		"a\u2028b", "constructor.constructor", strings.Repeat("a", 129), "é", "a;b", ""} {
		f.Add(s)
	}
	ts := newTestServer(f, nil)
	f.Fuzz(func(t *testing.T, cb string) {
		if len(cb) > 1024 {
			return // the URL cap (414) answers first
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/jsonp?callback="+url.QueryEscape(cb)+"&msg="+url.QueryEscape(cb), nil)
		req.Host = strings.TrimPrefix(ts.URL, "http://") // a foreign Host gets 421
		ts.ServeHTTP(rec, req)
		body := rec.Body.String()
		switch rec.Code {
		case http.StatusBadRequest:
			if !strings.Contains(body, `"error":"callback: `) {
				t.Fatalf("callback %q: 400 without the reason: %s", cb, body)
			}
		case http.StatusOK:
			if !safeCallback(cb) || !strings.HasPrefix(body, cb+"({") {
				t.Fatalf("callback %q accepted: %q", cb, body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/javascript; charset=utf-8" {
				t.Fatalf("callback %q: Content-Type %q", cb, ct)
			}
		default:
			t.Fatalf("callback %q: status %d", cb, rec.Code)
		}
	})
}

// safeCallback is the rule restated: 1-128 bytes of ASCII identifiers
// joined by single dots, none starting with a digit.
func safeCallback(cb string) bool {
	if cb == "" || len(cb) > 128 {
		return false
	}
	for _, part := range strings.Split(cb, ".") {
		if part == "" || part[0] >= '0' && part[0] <= '9' {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$') {
				return false
			}
		}
	}
	return true
}

// FuzzUploadRange: parseContentRange accepts exactly "bytes S-E/T" with
// decimal digits only (RFC 9110 §14.4) and S ≤ E, and what it accepts
// prints back to the same values.
func FuzzUploadRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 5-4/10", "bytes -1-3/10", "bytes +1-3/10", "bytes 0-9223372036854775807/10",
		"bytes 0-0/-1", "bytes 0-9/*", "bytes=0-9/10", "bytes 00-09/010", "bytes  0-9/10", "bytes 0-9/10\r\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, end, total, err := parseContentRange(v)
		if err != nil {
			return
		}
		rng, _ := strings.CutPrefix(v, "bytes ")
		for _, r := range rng {
			if !(r >= '0' && r <= '9' || r == '-' || r == '/') {
				t.Fatalf("parseContentRange(%q) accepted a non-digit %q", v, r)
			}
		}
		if start < 0 || end < start || total < 0 {
			t.Fatalf("parseContentRange(%q) = %d-%d/%d", v, start, end, total)
		}
		again := "bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10) + "/" + strconv.FormatInt(total, 10)
		s2, e2, t2, err := parseContentRange(again)
		if err != nil || s2 != start || e2 != end || t2 != total {
			t.Fatalf("parseContentRange(%q) = %d-%d/%d, but %q gives %d-%d/%d, %v", v, start, end, total, again, s2, e2, t2, err)
		}
	})
}
