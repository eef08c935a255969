//go:build !js

package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// Commands of one-way sessions (SSE, HTTP streaming) are POSTed to
// session/cmd, to any node. A session id is "NODE.RANDOM": NODE names the
// Handler holding the stream. The node that receives the POST publishes
// the commands to the internal topic "_n:NODE", which that Handler follows
// (one subscription per node, not per session) and hands to the session.

const nodeTopicPrefix = "_n:"

// maxCommands bounds the commands of one POST or WebSocket message.
const maxCommands = 256

// sessionInbox is how many POSTed batches a session holds before it
// executes them; past it a batch is refused with an "err" frame.
const sessionInbox = 64

// nodeCommands is the data of a message of "_n:NODE".
type nodeCommands struct {
	Session  string         `json:"s"`
	User     string         `json:"u,omitempty"` // who POSTed them
	Commands []wire.Command `json:"c"`
}

// inboxItem is one POST's commands, and who sent them.
type inboxItem struct {
	user string
	cmds []wire.Command
}

// followNode hands the commands published to this node's topic to its
// sessions, until Close. It resubscribes after a broker failure.
func (h *Handler) followNode() {
	topic := nodeTopicPrefix + h.node
	var from wire.Cursor
	first := true
	for h.ctx.Err() == nil {
		sub, err := h.broker.Subscribe(h.ctx, topic, from)
		var gap *broker.GapError
		if errors.As(err, &gap) {
			h.cfg.Logf("realtime: session commands of node %s lost: %v", h.node, gap)
			from = gap.Resume
			continue
		}
		if err != nil {
			select {
			case <-h.ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		from = sub.Start()
		if first {
			close(h.nodeReady)
			first = false
		}
		for {
			ms, err := sub.Next(h.ctx)
			if err != nil {
				if errors.As(err, &gap) {
					h.cfg.Logf("realtime: session commands of node %s lost: %v", h.node, gap)
					from = gap.Resume
				}
				break
			}
			for _, m := range ms {
				from = m.Cursor()
				var nc nodeCommands
				if m.Type == "cmd" && json.Unmarshal(m.Data, &nc) == nil {
					h.dispatch(nc)
				}
			}
		}
		sub.Close()
	}
}

// dispatch hands commands to a local session; a full inbox refuses them.
func (h *Handler) dispatch(nc nodeCommands) {
	h.sessMu.Lock()
	s := h.oneway[nc.Session]
	h.sessMu.Unlock()
	if s == nil {
		return // the session ended: its client has no stream to hear an answer on
	}
	s.mu.Lock()
	if len(s.inbox) < sessionInbox {
		s.inbox = append(s.inbox, inboxItem{nc.User, nc.Commands})
	} else {
		s.refused += len(nc.Commands)
	}
	direct := s.direct != nil
	s.mu.Unlock()
	if direct { // a hijacked stream: a goroutine runs them, one at a time
		if s.takeCommands(false) {
			go s.runInbox()
		}
		return
	}
	select {
	case s.wake <- struct{}{}: // run executes them (and reports a refusal)
	default:
	}
}

// A hijacked one-way session has no writer goroutine (session.direct
// writes): its POSTed commands run in a goroutine started when they
// arrive, and s.wake is the token that lets one goroutine at a time run
// the session's commands.

// takeCommands takes the token of running commands, waiting for it when
// wait is set; without, it reports whether it got it.
func (s *session) takeCommands(wait bool) bool {
	if wait {
		s.wake <- struct{}{}
		return true
	}
	select {
	case s.wake <- struct{}{}:
		return true
	default:
		return false
	}
}

// releaseCommands gives the token back; when commands arrived meanwhile
// it takes it again and reports true: the caller runs them.
func (s *session) releaseCommands() bool {
	<-s.wake
	s.mu.Lock()
	more := len(s.inbox) > 0 || s.refused > 0
	s.mu.Unlock()
	return more && s.takeCommands(false)
}

// runInbox runs the inbox's commands, holding the token.
func (s *session) runInbox() {
	for {
		s.serveInbox()
		if !s.releaseCommands() {
			return
		}
	}
}

// streamParams reads the parameters of a session stream: sub= and
// heartbeat=. On failure it has answered 400.
func streamParams(w http.ResponseWriter, r *http.Request) ([]wire.Command, time.Duration, bool) {
	q := r.URL.Query()
	if len(q["sub"]) > wire.MaxSessionTopics {
		httpx.WriteError(w, http.StatusBadRequest, "sub: at most "+strconv.Itoa(wire.MaxSessionTopics))
		return nil, 0, false
	}
	cmds, err := parseSubs(q["sub"])
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
		return nil, 0, false
	}
	hb, ok := httpx.MillisParam(w, q, "heartbeat", 15*time.Second, 100*time.Millisecond, time.Minute)
	return cmds, hb, ok
}

func (h *Handler) handleSessionSSE(w http.ResponseWriter, r *http.Request) {
	h.serveOneWay(w, r, true)
}

func (h *Handler) handleSessionStream(w http.ResponseWriter, r *http.Request) {
	h.serveOneWay(w, r, false)
}

// sseLines frames lines as one SSE event: a "data:" field per line
// (without the optional space: a byte per message).
func sseLines(b []byte) []byte {
	return appendSSELines(make([]byte, 0, len(b)+len(b)/8+16), b, 0)
}

// appendSSELines appends lines to out as SSE events, a "data:" field per
// line; with max > 0 an event ends before it would pass max bytes (it
// holds at least one line).
func appendSSELines(out, b []byte, max int) []byte {
	start := len(out)
	wire.SplitLines(b, func(line []byte) error {
		if max > 0 && len(out) > start && len(out)-start+len("data:\n\n")+len(line) > max {
			out = append(out, '\n')
			start = len(out)
		}
		out = append(out, "data:"...)
		out = append(out, line...)
		out = append(out, '\n')
		return nil
	})
	return append(out, '\n')
}

// serveOneWay serves a session over SSE or HTTP streaming.
func (h *Handler) serveOneWay(w http.ResponseWriter, r *http.Request, sse bool) {
	if h.cors(w, r) {
		return
	}
	cmds, hb, ok := streamParams(w, r)
	if !ok {
		return
	}
	flush := false
	if sse {
		if flush, ok = flushParam(w, r.URL.Query()); !ok {
			return
		}
	}
	ident, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	select {
	case <-h.nodeReady:
	case <-r.Context().Done():
		return
	case <-time.After(5 * time.Second):
		w.Header().Set("Retry-After", "2")
		httpx.WriteError(w, http.StatusServiceUnavailable, "realtime: the broker does not carry session commands yet")
		return
	}
	release, ok := h.cfg.Streams.Acquire(w, r)
	if !ok {
		return
	}
	shrinkSendBuffer(r.Context(), h.cfg.StreamSendBuffer)
	if sse {
		httpx.SetSSEHeaders(w)
	} else {
		hd := w.Header()
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		hd.Set("Cache-Control", "no-cache")
		hd.Set("X-Accel-Buffering", "no")
	}
	if st, err := httpx.HijackStream(w, r, h.cfg.StreamWriteTimeout); err == nil {
		h.serveHijacked(st, r, sse, flush, cmds, hb, ident, release)
		return
	}
	// HTTP/2, HTTP/1.0: the session lives in this goroutine.
	defer release()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	s := h.newSession(r.Context(), ident, r.URL.Query().Get("key"))
	s.id = h.node + "." + s.id
	s.replyNow = true
	if flush {
		s.mark = func() error {
			rc.SetWriteDeadline(time.Now().Add(h.cfg.StreamWriteTimeout))
			if _, err := w.Write(sseFlushEvent); err != nil {
				return err
			}
			return rc.Flush()
		}
	}
	h.sessMu.Lock()
	h.oneway[s.id] = s
	h.sessMu.Unlock()
	defer func() {
		h.sessMu.Lock()
		delete(h.oneway, s.id)
		h.sessMu.Unlock()
	}()
	write := func(b []byte) error {
		if sse {
			b = sseLines(b)
		}
		rc.SetWriteDeadline(time.Now().Add(h.cfg.StreamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	w.WriteHeader(http.StatusOK)
	first := s.hello(true, hb)
	if sse {
		first = append([]byte("retry: 2000\n\n"), sseLines(first)...)
		rc.SetWriteDeadline(time.Now().Add(h.cfg.StreamWriteTimeout))
		if _, err := w.Write(first); err != nil || rc.Flush() != nil {
			s.close()
			return
		}
	} else if write(first) != nil {
		s.close()
		return
	}
	for _, c := range cmds {
		s.exec(c)
	}
	perLine := 0
	if sse {
		perLine = len("data:")
	}
	s.run(hb, perLine, write) // it executes the inbox's commands too
	s.cancel()
	s.close()
}

// serveHijacked serves a one-way session on a hijacked HTTP/1.1
// connection, after the handler returned: whoever queues lines while
// nobody writes writes them (session.flushLocked), a timer sends the
// heartbeat, POSTed commands run in a goroutine started when they come
// (dispatch), and one goroutine parked in a shallow frame
// (Stream.WaitGone) ends the session when the client goes, the Handler
// closes or the identity expires.
func (h *Handler) serveHijacked(st *httpx.Stream, r *http.Request, sse, flush bool, cmds []wire.Command, hb time.Duration, ident Identity, release func()) {
	// r's context ends with the handler; its values stay.
	s := h.newSession(context.WithoutCancel(r.Context()), ident, r.URL.Query().Get("key"))
	s.id = h.node + "." + s.id
	frame := func(pre, b []byte) []byte { // a chunk of lines, with room for its head
		out := append(make([]byte, httpx.ChunkHead, httpx.ChunkHead+len(pre)+len(b)+len(b)/8+24), pre...)
		if sse {
			return appendSSELines(out, b, maxFrame)
		}
		return append(out, b...)
	}
	write := func(b []byte) error { return st.WriteChunk(frame(nil, b)) }
	var pre []byte
	if sse {
		pre = []byte("retry: 2000\n\n")
	}
	s.mu.Lock()
	s.direct = write
	if flush {
		s.mark = func() error {
			return st.WriteChunk(append(make([]byte, httpx.ChunkHead, httpx.ChunkHead+len(sseFlushEvent)+2), sseFlushEvent...))
		}
	}
	s.mu.Unlock()
	h.sessMu.Lock() // before the hello: its client may POST commands at once
	h.oneway[s.id] = s
	h.sessMu.Unlock()
	s.takeCommands(true) // the URL's commands run before posted ones
	if err := st.WriteChunk(frame(pre, s.hello(true, hb))); err != nil {
		<-s.wake
		h.endHijacked(s, st, nil, release)
		return
	}
	beat := s.heartbeat(hb)
	for _, c := range cmds {
		s.exec(c)
	}
	if s.releaseCommands() {
		go s.runInbox()
	}
	go func() {
		st.WaitGone(s.ctx)
		h.endHijacked(s, st, beat, release)
	}()
}

// endHijacked ends a session of serveHijacked: its subscriptions and
// presence, its heartbeat (beat, if any), then the stream, once no
// command runs, and its slot.
func (h *Handler) endHijacked(s *session, st *httpx.Stream, beat *time.Timer, release func()) {
	s.cancel()
	h.sessMu.Lock()
	delete(h.oneway, s.id)
	h.sessMu.Unlock()
	s.close()
	if beat != nil {
		beat.Stop()
	}
	s.takeCommands(true) // held for good: no command runs after this
	st.Close()
	release()
}

// serveInbox executes the POSTed batches of a one-way session: from run,
// in the writer's goroutine (replyNow: replies do not wait for queue
// space), or from runInbox on a hijacked stream (replies wait for space
// like a WebSocket's: whoever queues writes).
func (s *session) serveInbox() {
	s.mu.Lock()
	items, refused := s.inbox, s.refused
	s.inbox, s.refused = nil, 0
	s.mu.Unlock()
	if refused > 0 {
		s.reply(wire.Frame{Op: wire.OpError, Code: wire.CodeTooMany,
			Error: strconv.Itoa(refused) + " posted commands refused: the session's inbox is full"})
	}
	for _, item := range items {
		for _, c := range item.cmds {
			if item.user != s.ident.User {
				s.reply(fail(c, wire.CodeForbidden, "the command was posted by another user than the session's"))
				continue
			}
			s.exec(c)
		}
	}
}

// handleSessionCmd accepts commands for a one-way session of any node.
func (h *Handler) handleSessionCmd(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) {
		return
	}
	ident, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get("session")
	node, _, ok := strings.Cut(id, ".")
	if !ok || !validSessionID(node) || !validSessionID(id[len(node)+1:]) {
		httpx.WriteError(w, http.StatusBadRequest, "session: want the id of the hello frame")
		return
	}
	body, ok := httpx.ReadBody(w, r, h.cfg.MaxBody)
	if !ok {
		return
	}
	cmds, err := parseCommands(body)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "commands: want a JSON command or an array of them: "+err.Error())
		return
	}
	if len(cmds) == 0 || len(cmds) > maxCommands {
		httpx.WriteError(w, http.StatusBadRequest, "commands: want 1 to "+strconv.Itoa(maxCommands))
		return
	}
	if node == h.node {
		h.sessMu.Lock()
		s := h.oneway[id]
		h.sessMu.Unlock()
		if s == nil {
			httpx.WriteError(w, http.StatusNotFound, "session: no such session (it ended, or never was)")
			return
		}
	}
	data, _ := json.Marshal(nodeCommands{Session: id, User: ident.User, Commands: cmds})
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
	defer cancel()
	if _, err := h.broker.Publish(ctx, nodeTopicPrefix+node, []wire.Draft{{Type: "cmd", Data: data}}, broker.PublishOptions{}); err != nil {
		writeBrokerError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, map[string]int{"accepted": len(cmds)})
}
