//go:build js && wasm

package comet

import (
	"context"
	"slices"
	"sync/atomic"
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

// presenceAll waits for every event of want (client → join) on s, in any
// order, skipping others.
func presenceAll(ctx context.Context, t *testing.T, s *Subscription, want map[string]bool) {
	t.Helper()
	for len(want) > 0 {
		ev, err := s.NextPresence(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", want, err)
		}
		if j, ok := want[ev.Member.Client]; ok && j == ev.Join {
			delete(want, ev.Member.Client)
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

// TestClientPresenceFallback: a subscription with presence keeps it when
// the client falls back to long polling (WebSocket, SSE and streaming
// blocked) and when it moves back up to WebSocket: no CommandError, every
// message exactly once, and NextPresence gets the joins and leaves on each
// transport. The anonymous client is one member on every transport: the
// others see it leave when its WebSocket session ends and join again from
// its polls, and nothing at the upgrade.
func TestClientPresenceFallback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := newTopic("presfall")
	pollOnly := &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName("poll")}}
	watcher, err := Connect(ctx, pollOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	sw, _ := watcher.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
	waitConfirmed(t, sw)
	c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: fastTransports(),
		Heartbeat: 500 * time.Millisecond, Backoff: 20 * time.Millisecond, ConfirmTimeout: 2 * time.Second, Probe: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
	if err != nil {
		t.Fatal(err)
	}
	waitConfirmed(t, s)
	if c.Active() != "ws" {
		t.Fatalf("active %s, want ws", c.Active())
	}
	mWS := c.Member()
	nextPresence(ctx, t, sw, mWS.Client, true)
	const n = 150
	readErr := make(chan error, 1)
	go func() { readErr <- readN(ctx, s, 0, n) }()
	publish(t, topic, 0, 50)

	// Down to long polling.
	for _, tr := range []string{"ws", "sse", "stream"} {
		block(t, tr, 6*time.Second)
	}
	for c.Active() != "longpoll" && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	// The ws session ended (leave), the polls join the same member again.
	nextPresence(ctx, t, sw, mWS.Client, false)
	nextPresence(ctx, t, sw, mWS.Client, true)
	if m := c.Member(); m.Client != mWS.Client {
		t.Fatalf("member over long polling %+v, over ws %+v", m, mWS)
	}
	publish(t, topic, 50, 50)
	p3, err := Connect(ctx, pollOnly)
	if err != nil {
		t.Fatal(err)
	}
	s3, _ := p3.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
	waitConfirmed(t, s3)
	for p3.Member().Client == "" && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	m3 := p3.Member()
	nextPresence(ctx, t, s, m3.Client, true)
	p3.Close()
	nextPresence(ctx, t, s, m3.Client, false)
	onPoll := c.Active()

	// Back up to WebSocket once the block ends.
	for (c.Active() != "ws" || c.Stats().Upgrades == 0) && ctx.Err() == nil {
		time.Sleep(25 * time.Millisecond)
	}
	mBack := c.Member()
	if mBack.Client != mWS.Client {
		t.Fatalf("member after the upgrade %+v, before %+v", mBack, mWS)
	}
	publish(t, topic, 100, 50)
	p4, err := Connect(ctx, pollOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer p4.Close()
	s4, _ := p4.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
	waitConfirmed(t, s4)
	for p4.Member().Client == "" && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	nextPresence(ctx, t, s, p4.Member().Client, true)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	got := whoClients(ctx, t, s)
	if want := sortedOf(watcher.Member().Client, mBack.Client, p4.Member().Client); !slices.Equal(got, want) {
		t.Fatalf("who after the round trip: %v, want %v (its member %s)", got, want, mWS.Client)
	}
	t.Logf("ws > %s (join and leave seen there) > ws; %d messages exactly once; members %d", onPoll, n, len(got))
}

// TestClientPollPresenceTokens: with tokens a poller is the member
// "u."+user, as on a connection: a ws client of another user sees it
// join and leave, and Who lists both users.
func TestClientPollPresenceTokens(t *testing.T) {
	base := tokenServer(t)
	for _, name := range []string{"poll", "longpoll"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			alice, bob := newUser(), newUser()
			var calls atomic.Int64
			topic := newTopic("tokpres")
			wsc, err := Connect(ctx, &Options{URL: base, Transports: []Transport{WS{}}, Token: demoToken(base, bob, 60, &calls)})
			if err != nil {
				t.Fatal(err)
			}
			defer wsc.Close()
			sw, _ := wsc.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
			waitConfirmed(t, sw)
			poller, err := Connect(ctx, &Options{URL: base, Transports: []Transport{transportByName(name)}, Token: demoToken(base, alice, 60, &calls)})
			if err != nil {
				t.Fatal(err)
			}
			sp, _ := poller.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
			waitConfirmed(t, sp)
			nextPresence(ctx, t, sw, "u."+alice, true)
			nextPresence(ctx, t, sp, "u."+alice, true) // its own
			if m := poller.Member(); m.Client != "u."+alice || m.User != alice {
				t.Fatalf("the poller's member %+v, want u.%s", m, alice)
			}
			if got, want := whoClients(ctx, t, sp), sortedOf("u."+alice, "u."+bob); !slices.Equal(got, want) {
				t.Fatalf("who over %s: %v, want %v", name, got, want)
			}
			poller.Close()
			nextPresence(ctx, t, sw, "u."+alice, false)
		})
	}
}
