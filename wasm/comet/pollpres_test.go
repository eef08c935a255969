//go:build js && wasm

package comet

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
)

// nextPresence returns the next event of s about client (skipping others).
func nextPresence(ctx context.Context, t *testing.T, s *Subscription, client string, join bool) {
	t.Helper()
	for {
		ev, err := s.NextPresence(ctx)
		if err != nil {
			t.Fatalf("waiting for %s's join=%v: %v", client, join, err)
		}
		if ev.Member.Client == client {
			if ev.Join != join {
				t.Fatalf("%s: got join=%v, want join=%v", client, ev.Join, join)
			}
			return
		}
	}
}

func whoClients(ctx context.Context, t *testing.T, s *Subscription) []string {
	t.Helper()
	ms, err := s.Who(ctx)
	if err != nil {
		t.Fatalf("who: %v", err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Client)
	}
	slices.Sort(out)
	return out
}

// TestClientPollPresence: a client on poll (or long poll) alone and one on
// WebSocket: each sees the other join, Who lists both from either side,
// the poller's leave is seen when it closes, and when its polls stop (the
// poll endpoint blocked) it leaves once the server's PresenceTTL (3s in
// the harness) passes, and joins again when they resume.
func TestClientPollPresence(t *testing.T) {
	for _, name := range []string{"poll", "longpoll"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			topic := newTopic("pollpres")
			ws, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{WS{}}})
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			poller, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)}})
			if err != nil {
				t.Fatal(err)
			}
			defer poller.Close()

			// The poller first, then the ws client: the poller sees its join.
			sp, err := poller.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
			if err != nil {
				t.Fatal(err)
			}
			waitConfirmed(t, sp)
			pm := poller.Member()
			for pm.Client == "" && ctx.Err() == nil { // from the first poll's who frame
				time.Sleep(10 * time.Millisecond)
				pm = poller.Member()
			}
			nextPresence(ctx, t, sp, pm.Client, true) // its own join
			sw, err := ws.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
			if err != nil {
				t.Fatal(err)
			}
			waitConfirmed(t, sw)
			wm := ws.Member()
			nextPresence(ctx, t, sp, wm.Client, true)
			if got, want := whoClients(ctx, t, sp), sortedOf(pm.Client, wm.Client); !slices.Equal(got, want) {
				t.Fatalf("who over %s: %v, want %v", name, got, want)
			}
			if got, want := whoClients(ctx, t, sw), sortedOf(pm.Client, wm.Client); !slices.Equal(got, want) {
				t.Fatalf("who over ws: %v, want %v", got, want)
			}

			// The ws client sees a second poll subscription's member (a new
			// poll client) join, and its leave when it closes.
			p2, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)}})
			if err != nil {
				t.Fatal(err)
			}
			s2, _ := p2.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
			waitConfirmed(t, s2)
			for p2.Member().Client == "" && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			m2 := p2.Member()
			if m2.Client == pm.Client {
				t.Fatal("two poll clients share a member")
			}
			nextPresence(ctx, t, sw, m2.Client, true)
			nextPresence(ctx, t, sp, m2.Client, true)
			p2.Close()
			nextPresence(ctx, t, sw, m2.Client, false)
			nextPresence(ctx, t, sp, m2.Client, false)

			// The poller's polls stop: it leaves after the TTL; they resume:
			// it joins again.
			start := time.Now()
			block(t, name, 6*time.Second)
			nextPresence(ctx, t, sw, pm.Client, false)
			left := time.Since(start)
			nextPresence(ctx, t, sw, pm.Client, true)
			nextPresence(ctx, t, sp, pm.Client, false) // its own leave and join, from the events' history
			nextPresence(ctx, t, sp, pm.Client, true)
			t.Logf("%s: joins seen both ways, who lists both, close seen; polls blocked: left after %v", name, left.Round(10*time.Millisecond))
			sp.Close()
			nextPresence(ctx, t, sw, pm.Client, false)
		})
	}
}

func sortedOf(s ...string) []string {
	slices.Sort(s)
	return s
}
