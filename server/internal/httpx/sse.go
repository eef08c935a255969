//go:build !js

package httpx

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SSEEvent is one Server-Sent Events block. Empty fields are left out,
// except Data, which is always sent (an event without data is not
// dispatched by browsers).
type SSEEvent struct {
	ID    string
	Event string
	Data  string
	Retry time.Duration // 0: no retry field
}

// ErrSSEField is returned for an id or event with CR, LF or NUL.
var ErrSSEField = errors.New("sse: id and event must not contain CR, LF or NUL")

// AppendSSE appends ev framed by the WHATWG rules: data with CR, LF or
// CRLF becomes one "data:" line per line; id and event with CR, LF or NUL
// are refused; invalid UTF-8 becomes U+FFFD so the output is UTF-8.
// https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
func AppendSSE(b []byte, ev SSEEvent) ([]byte, error) {
	if strings.ContainsAny(ev.ID, "\r\n\x00") || strings.ContainsAny(ev.Event, "\r\n\x00") {
		return b, ErrSSEField
	}
	if ev.Retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, ev.Retry.Milliseconds(), 10)
		b = append(b, '\n')
	}
	if ev.ID != "" {
		b = append(b, "id: "...)
		b = append(b, strings.ToValidUTF8(ev.ID, "\uFFFD")...)
		b = append(b, '\n')
	}
	if ev.Event != "" {
		b = append(b, "event: "...)
		b = append(b, strings.ToValidUTF8(ev.Event, "\uFFFD")...)
		b = append(b, '\n')
	}
	data := strings.ToValidUTF8(ev.Data, "\uFFFD")
	for {
		i := strings.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(b, '\n'), nil
}

// SetSSEHeaders sets the headers of an event stream.
func SetSSEHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}
