//go:build !js

package realtime

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// FaultPlan plans faults for the connections of one topic (tests only,
// Config.FaultInjection).
type FaultPlan struct {
	// Cuts is how many connections to cut mid-frame.
	Cuts int `json:"cuts"`
	// Stalls is how many connections to stall: they stay open and silent
	// (no messages, no heartbeats) until the client leaves.
	Stalls int `json:"stalls"`
	// BadGateways is how many poll answers to replace by a 502, as a
	// proxy that timed a hanging request out would (polls only).
	BadGateways int `json:"badGateways"`
	// Every bounds the messages sent before a fault: each faulted
	// connection sends a random number in [0, Every]. Defaults to 100.
	Every int `json:"every"`
	// MaxAnswer, if positive, cuts every poll answer of more than
	// MaxAnswer messages, as a link that breaks long responses would
	// (polls only; counted as cuts, beyond Cuts).
	MaxAnswer int `json:"maxAnswer"`
}

// FaultStats counts the faults done for a topic.
type FaultStats struct {
	Cuts        int `json:"cuts"`
	Stalls      int `json:"stalls"`
	BadGateways int `json:"badGateways"`
}

// fault is the fault planned for one connection: after After messages,
// cut it (Stall false) or stall it (Stall true); or, with Status set (502,
// polls only), answer that status instead.
type fault struct {
	After  int
	Stall  bool
	Status int
}

type faultPlan struct {
	plan      FaultPlan
	done      FaultStats
	countdown int // messages until the next batch fault
}

// faults holds the fault plans per topic. A nil *faults plans none.
type faults struct {
	mu    sync.Mutex
	plans map[string]*faultPlan
}

func newFaults() *faults { return &faults{plans: map[string]*faultPlan{}} }

func (f *faults) set(topic string, p FaultPlan) {
	if p.Every <= 0 {
		p.Every = 100
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans[topic] = &faultPlan{plan: p, countdown: rand.IntN(p.Every + 1)}
}

func (f *faults) stats(topic string) FaultStats {
	if f == nil {
		return FaultStats{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.plans[topic]; p != nil {
		return p.done
	}
	return FaultStats{}
}

// next returns the fault planned for a new streaming connection to topic.
// Call done when it happens.
func (f *faults) next(topic string) (fault, bool) {
	if f == nil {
		return fault{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.plans[topic]
	if p == nil {
		return fault{}, false
	}
	cuts, stalls := max(p.plan.Cuts-p.done.Cuts, 0), max(p.plan.Stalls-p.done.Stalls, 0)
	if cuts == 0 && stalls == 0 {
		return fault{}, false
	}
	return fault{After: rand.IntN(p.plan.Every + 1), Stall: rand.IntN(cuts+stalls) >= cuts}, true
}

// batch is next for transports that answer one batch per request
// (polling): faults fall every [0, Every] messages over the topic's
// answers, counted across requests. n is the size of the batch about to
// be sent (an empty answer counts as 1).
func (f *faults) batch(topic string, n int) (fault, bool) {
	if f == nil {
		return fault{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.plans[topic]
	if p == nil {
		return fault{}, false
	}
	if p.plan.MaxAnswer > 0 && n > p.plan.MaxAnswer {
		return fault{}, true
	}
	cuts, stalls := max(p.plan.Cuts-p.done.Cuts, 0), max(p.plan.Stalls-p.done.Stalls, 0)
	bad := max(p.plan.BadGateways-p.done.BadGateways, 0)
	if cuts == 0 && stalls == 0 && bad == 0 {
		return fault{}, false
	}
	if p.countdown -= max(n, 1); p.countdown >= 0 {
		return fault{}, false
	}
	// The retry of the same batch must get through: count it in.
	p.countdown = max(n, 1) + rand.IntN(p.plan.Every+1)
	switch r := rand.IntN(cuts + stalls + bad); {
	case r < cuts:
		return fault{}, true
	case r < cuts+stalls:
		return fault{Stall: true}, true
	}
	return fault{Status: http.StatusBadGateway}, true
}

// done records that flt happened on a connection to topic.
func (f *faults) done(topic string, flt fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.plans[topic]; p != nil {
		switch {
		case flt.Status != 0:
			p.done.BadGateways++
		case flt.Stall:
			p.done.Stalls++
		default:
			p.done.Cuts++
		}
	}
}

// FaultHandler serves the fault-injection endpoints (tests only), or nil
// without Config.FaultInjection:
//
//	POST faults {"topic":T, FaultPlan...}   plans faults, answers FaultStats
//	GET  faults?topic=T                     FaultStats
//	POST reset?topic=T                      drops T's history: a new epoch
//	GET  subscribers                        {"subscribers":N,"streams":N}
func (h *Handler) FaultHandler() http.Handler {
	if h.faults == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Topic string `json:"topic"`
			FaultPlan
		}
		if !httpx.DecodeJSON(w, r, h.cfg.MaxBody, &req) {
			return
		}
		if !wire.ValidTopic(req.Topic) {
			writeBrokerError(w, broker.ErrTopic)
			return
		}
		h.faults.set(req.Topic, req.FaultPlan)
		httpx.WriteJSON(w, http.StatusOK, h.faults.stats(req.Topic))
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, h.faults.stats(r.URL.Query().Get("topic")))
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		topic := r.URL.Query().Get("topic")
		rs, ok := h.broker.(broker.Resetter)
		if !ok {
			writeBrokerError(w, errors.New("this broker cannot reset a topic"))
			return
		}
		if err := rs.Reset(r.Context(), topic); err != nil {
			writeBrokerError(w, err)
			return
		}
		head, _ := h.broker.Head(r.Context(), topic)
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"cursor": head})
	})
	mux.HandleFunc("GET /subscribers", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]int{"subscribers": h.Subscribers(), "streams": h.cfg.Streams.Count()})
	})
	return mux
}

// SetFaults plans faults for topic (tests only; without
// Config.FaultInjection it does nothing).
func (h *Handler) SetFaults(topic string, p FaultPlan) {
	if h.faults != nil {
		h.faults.set(topic, p)
	}
}

// Faults returns the faults done for topic since SetFaults.
func (h *Handler) Faults(topic string) FaultStats { return h.faults.stats(topic) }
