//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// Session polling is stateless: every request names its subscriptions
// (sub=T,TOPIC,FROM) and the answer holds the lines after them.

func (h *Handler) handleSessionPoll(w http.ResponseWriter, r *http.Request) {
	h.servePoll(w, r, false)
}

func (h *Handler) handleSessionLongPoll(w http.ResponseWriter, r *http.Request) {
	h.servePoll(w, r, true)
}

// pollSub is one subscription of a poll, resolved.
type pollSub struct {
	c    wire.Command
	from wire.Cursor // where its lines start (after the answer's sub frame, if any)
}

func (h *Handler) servePoll(w http.ResponseWriter, r *http.Request, long bool) {
	if h.cors(w, r) {
		return
	}
	q := r.URL.Query()
	if n := len(q["sub"]); n > h.cfg.SessionTopics {
		httpx.WriteError(w, http.StatusBadRequest, "sub: a session follows at most "+strconv.Itoa(h.cfg.SessionTopics)+" topics")
		return
	}
	cmds, err := parseSubs(q["sub"])
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(q["pres"]) > h.cfg.SessionTopics || len(q["leave"]) > h.cfg.SessionTopics {
		httpx.WriteError(w, http.StatusBadRequest, "pres, leave: at most "+strconv.Itoa(h.cfg.SessionTopics)+" each")
		return
	}
	if len(q["who"]) > maxPollWho {
		httpx.WriteError(w, http.StatusBadRequest, "who: at most "+strconv.Itoa(maxPollWho)+" topics per request")
		return
	}
	pp := pollPres{key: q.Get("key")}
	if pp.cursors, err = parsePres(q["pres"]); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	ident, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	maxN := 256
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			httpx.WriteError(w, http.StatusBadRequest, "max: want 1 to 10000")
			return
		}
		maxN = n
	}
	ctx := r.Context()
	if long {
		timeout, ok := httpx.MillisParam(w, q, "timeout", 25*time.Second, 10*time.Millisecond, 2*time.Minute)
		if d := time.Until(ident.Expires); !ident.Expires.IsZero() && d < timeout {
			timeout = max(d, 10*time.Millisecond)
		}
		if !ok {
			return
		}
		release, ok := h.cfg.Streams.Acquire(w, r)
		if !ok {
			return
		}
		defer release()
		http.NewResponseController(w).SetWriteDeadline(time.Time{})
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
		stop := context.AfterFunc(h.ctx, cancel)
		defer stop()
	}
	pre := h.pollLeaveWho(ctx, nil, ident, pp.key, q["leave"], q["who"])
	body, subs, now := h.pollLines(ctx, ident, cmds, maxN, &pp)
	if long && !now && len(subs) > 0 {
		wctx, stop := context.WithCancel(ctx)
		go h.refreshPolled(wctx, slices.Clone(pp.joined), pp.member)
		h.waitAny(wctx, subs)
		stop()
		if r.Context().Err() != nil {
			return // the client left
		}
		pp.refresh = true
		body, _, _ = h.pollLines(context.WithoutCancel(ctx), ident, cmds, maxN, &pp)
	}
	body = append(pre, body...)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// pollLines answers the subscriptions at once: their lines (messages up to
// about Config.SessionQueue bytes in all), and the subscriptions a long
// poll can wait on. now is true when the answer must
// not wait (a subscription gave its start, failed or has messages).
func (h *Handler) pollLines(ctx context.Context, ident Identity, cmds []wire.Command, maxN int, pp *pollPres) (b []byte, subs []pollSub, now bool) {
	seen := map[int]bool{}
	pp.joined = pp.joined[:0]
	for _, c := range cmds {
		code, msg := checkTopic(c.Topic)
		switch {
		case c.T < 1 || c.T > wire.MaxSessionTopics:
			code, msg = wire.CodeBad, "t: want 1 to "+strconv.Itoa(wire.MaxSessionTopics)
		case seen[c.T]:
			code, msg = wire.CodeBad, "t "+strconv.Itoa(c.T)+" is in use"
		}
		if code == "" {
			if err := h.allowed(ctx, ident, c.Topic, Subscribe); err != nil {
				code, msg = wire.CodeForbidden, err.Error()
			}
		}
		if code == "" && c.Presence {
			if h.presence == nil {
				code, msg = wire.CodeUnavailable, "presence: the broker does not implement it"
			} else if m, err := pollMember(ident, pp.key); err != nil {
				code, msg = wire.CodeBad, err.Error()
			} else {
				pp.member = m
			}
		}
		if code != "" {
			b, now = wire.AppendFrame(b, fail(c, code, msg)), true
			continue
		}
		seen[c.T] = true
		var from wire.Cursor
		var err error
		if c.From != wire.FromOldest {
			if from, err = wire.ParseCursor(c.From); err != nil {
				b, now = wire.AppendFrame(b, fail(c, wire.CodeBad, "from: want \"\", \"oldest\" or EPOCH-OFFSET")), true
				continue
			}
		}
		if from.IsZero() { // now, or the oldest: say where the lines start
			head, err := h.broker.Head(ctx, c.Topic)
			if err != nil {
				b, now = wire.AppendFrame(b, fail(c, errCode(err), err.Error())), true
				continue
			}
			from = head
			if c.From == wire.FromOldest {
				from.Offset = 0
			}
		}
		batch, err := h.broker.Read(ctx, c.Topic, from, maxN)
		var gap *broker.GapError
		if errors.As(err, &gap) && c.From == wire.FromOldest && gap.Reason == wire.GapEvicted {
			from = gap.Resume
			batch, err = h.broker.Read(ctx, c.Topic, from, maxN)
		}
		switch {
		case errors.As(err, &gap):
			b, now = wire.AppendFrame(b, wire.Frame{Op: wire.OpGap, T: c.T, Topic: c.Topic, Gap: &gap.Gap}), true
			continue
		case err != nil:
			b, now = wire.AppendFrame(b, fail(c, errCode(err), err.Error())), true
			continue
		}
		if c.From == "" || c.From == wire.FromOldest {
			b, now = wire.AppendFrame(b, wire.Frame{Op: wire.OpSubscribe, T: c.T, Topic: c.Topic, Cursor: from}), true
		}
		if len(batch.Messages) > 0 {
			now = true
		}
		next := from
		for _, m := range batch.Messages {
			if len(b) >= h.cfg.SessionQueue { // a bounded answer: the next poll goes on from the lines
				break
			}
			b = wire.AppendMessage(b, c.T, m.Type, m.Data)
			next = m.Cursor()
		}
		subs = append(subs, pollSub{c: c, from: next})
		if c.Presence {
			if len(b) >= h.cfg.SessionQueue { // a bounded answer: refresh only; the next poll reads the events
				if err := h.pollJoin(ctx, c.Topic, pp.member, pp.refresh); err != nil {
					b = wire.AppendFrame(b, fail(c, errCode(err), "presence: "+err.Error()))
					subs = subs[:len(subs)-1]
				} else {
					pp.joined = append(pp.joined, c.Topic)
				}
				now = true
				continue
			}
			pb, pcur, err := h.pollPresenceLines(ctx, b, c, pp.member, pp.cursors[c.T], pp.refresh)
			if err != nil {
				b, now = wire.AppendFrame(b, fail(c, errCode(err), "presence: "+err.Error())), true
				subs = subs[:len(subs)-1]
				continue
			}
			if len(pb) > len(b) {
				now = true
			}
			b = pb
			pp.joined = append(pp.joined, c.Topic)
			subs = append(subs, pollSub{c: wire.Command{Topic: presenceTopicPrefix + c.Topic}, from: pcur})
		}
	}
	return b, subs, now
}

// pollPres is the presence side of one poll request.
type pollPres struct {
	key     string              // the client's secret (anonymous members)
	cursors map[int]wire.Cursor // pres=T,CURSOR
	member  wire.Member         // set when a subscription has presence
	joined  []string            // the topics joined, for a long poll's refresh
	refresh bool                // joined once already: keep a member that left gone
}

// waitAny waits until one of subs has a message after its cursor (or a
// gap, or a failure), or ctx ends.
func (h *Handler) waitAny(ctx context.Context, subs []pollSub) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, ps := range subs {
		wg.Go(func() {
			defer cancel()
			sub, err := h.subscribe(ctx, ps.c.Topic, ps.from)
			if err != nil {
				return
			}
			defer sub.Close()
			sub.Next(ctx)
		})
	}
	wg.Wait()
}
