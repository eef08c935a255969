//go:build js && wasm

package comet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
)

// tokenServer is the second test server, started by wasmrun with
// -token-secret-file and the demo's rules (user:{sub}:* private).
func tokenServer(t *testing.T) string {
	t.Helper()
	u := os.Getenv("COMET_TOKEN_SERVER")
	if u == "" {
		t.Fatal("COMET_TOKEN_SERVER is not set (wasmrun starts it for wasm/comet)")
	}
	return u
}

// demoToken returns an Options.Token signing in as user at base's POST
// /demo/token, for ttl seconds; calls counts its calls.
func demoToken(base, user string, ttl int, calls *atomic.Int64) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		calls.Add(1)
		body, _ := json.Marshal(map[string]any{"user": user, "ttlSeconds": ttl})
		resp, err := xhr.Send(ctx, &xhr.Request{Method: "POST", URL: base + "/demo/token", Body: body, ResponseType: xhr.ResponseText,
			Header: xhr.Header{"Content-Type": {"application/json"}}})
		if err != nil {
			return "", err
		}
		var r struct{ Token string }
		if resp.Status != 200 || json.Unmarshal(resp.Bytes(), &r) != nil {
			return "", errors.New("POST /demo/token: status " + strconv.Itoa(resp.Status) + ": " + resp.Text())
		}
		return r.Token, nil
	}
}

func newUser() string { return "u" + strconv.FormatUint(rand.Uint64(), 36) }

func TestJWTExp(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hdr := enc(`{"alg":"HS256","typ":"JWT"}`)
	for _, tc := range []struct {
		name, tok string
		want      int64
	}{
		{"exp", hdr + "." + enc(`{"sub":"a","exp":1800000000}`) + ".sig", 1800000000},
		{"padded", hdr + "." + enc(`{"exp":1800000001}`) + "==.sig", 1800000001},
		{"no exp", hdr + "." + enc(`{"sub":"a"}`) + ".sig", 0},
		{"exp not a number", hdr + "." + enc(`{"exp":"soon"}`) + ".sig", 0},
		{"not base64", hdr + ".%%%.sig", 0},
		{"two parts", hdr + "." + enc(`{"exp":1}`), 0},
		{"opaque", "abcdef", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := jwtExp(tc.tok)
			if tc.want == 0 && !got.IsZero() || tc.want != 0 && got.Unix() != tc.want {
				t.Fatalf("jwtExp = %v, want unix %d", got, tc.want)
			}
		})
	}
}

// TestTokenExpiry streams for 60s (10s with -short) with tokens that
// expire every 5s: the server ends each connection at its token's exp,
// the client refreshes before exp and resumes from its cursors. Every
// message arrives once, in order.
func TestTokenExpiry(t *testing.T) {
	base := tokenServer(t)
	dur := 60 * time.Second
	if testing.Short() {
		dur = 10 * time.Second
	}
	names := []string{"ws", "sse", "stream", "longpoll"}
	if !testenv.InBrowser() {
		names = []string{"ws", "sse", "longpoll"} // noStreamInNode
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			user := newUser()
			topic := "user:" + user + ":expiry"
			ctx, cancel := context.WithTimeout(context.Background(), dur+60*time.Second)
			defer cancel()
			var subCalls, pubCalls atomic.Int64
			sc, err := Connect(ctx, &Options{URL: base, Transports: []Transport{transportByName(name)},
				Heartbeat: time.Second, Token: demoToken(base, user, 5, &subCalls)})
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			sub, err := sc.Subscribe(ctx, topic, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitStarted(t, sub)
			pc, err := Connect(ctx, &Options{URL: base, Transports: []Transport{WS{}}, Token: demoToken(base, user, 5, &pubCalls)})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			published := publishFor(t, ctx, pc, topic, dur)
			got, lost, dup, n := readExpiring(t, ctx, sub.Next, published, func() string { return sc.Err().Error() })
			st := sc.Stats()
			t.Logf("%s over %v with 5s tokens: messages %d/%d, token fetches %d (refreshes %d; publisher %d), connections %d, lost %d, duplicated %d (skipped by the client: %d)",
				name, dur, got, n, subCalls.Load(), st.Tokens-1, pubCalls.Load(), st.Connections, lost, dup, st.Duplicates)
			if lost != 0 || dup != 0 || got != n {
				t.Fatalf("lost %d, duplicated %d, got %d of %d", lost, dup, got, n)
			}
			if min := int(dur/(5*time.Second)) - 1; st.Tokens-1 < min {
				t.Fatalf("%d refreshes over %v of 5s tokens, want at least %d", st.Tokens-1, dur, min)
			}
			if name != "longpoll" && st.Connections < 2 { // a poll run spans token changes
				t.Fatalf("%d connections: the server never ended one at its token's exp", st.Connections)
			}
		})
	}
}

// TestTokenForbidden: another user's private topic is refused with
// ErrForbidden, for subscribe and publish, and the session goes on.
func TestTokenForbidden(t *testing.T) {
	base := tokenServer(t)
	for _, name := range []string{"ws", "sse", "longpoll"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			user := newUser()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var calls atomic.Int64
			c, err := Connect(ctx, &Options{URL: base, Transports: []Transport{transportByName(name)}, Token: demoToken(base, user, 60, &calls)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			own, err := c.Subscribe(ctx, "user:"+user+":inbox", nil)
			if err != nil {
				t.Fatal(err)
			}
			other, err := c.Subscribe(ctx, "user:"+newUser()+":inbox", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Next(ctx); !errors.Is(err, ErrForbidden) {
				t.Fatalf("subscribe to another user's topic: %v, want ErrForbidden (client: %v, %+v, %d token calls)", err, c.Err(), c.Stats(), calls.Load())
			}
			if _, err := c.Publish(ctx, "user:"+newUser()+":inbox", "", []byte(`1`)); !errors.Is(err, ErrForbidden) {
				t.Fatalf("publish to another user's topic: %v, want ErrForbidden", err)
			}
			waitStarted(t, own)
			if _, err := c.Publish(ctx, "user:"+user+":inbox", "", []byte(`7`)); err != nil {
				t.Fatalf("publish to the own topic: %v", err)
			}
			m, err := own.Next(ctx)
			if err != nil || dataValue(m.Data) != 7 {
				t.Fatalf("own topic after the refusals: %v %q", err, m.Data)
			}
		})
	}
}

// TestTokenRefused: a token the server refuses even when fresh, or none
// at all, ends the Client with ErrUnauthenticated after a bounded number
// of tries.
func TestTokenRefused(t *testing.T) {
	base := tokenServer(t)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	forged := enc(`{"alg":"HS256","typ":"JWT"}`) + "." + enc(`{"sub":"mallory","exp":`+strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)+`}`) + "." + enc("not the server's signature")
	for _, tc := range []struct {
		name  string
		token func(context.Context) (string, error)
	}{
		{"forged", func(context.Context) (string, error) { return forged, nil }},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var calls atomic.Int64
			tok := tc.token
			if tok != nil {
				tok = func(ctx context.Context) (string, error) { calls.Add(1); return tc.token(ctx) }
			}
			ts := fastTransports()
			if !testenv.InBrowser() {
				ts = append(ts[:2:2], ts[3:]...) // noStreamInNode
			}
			c, err := Connect(ctx, &Options{URL: base, Transports: ts, Token: tok})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := c.Subscribe(ctx, "user:mallory:inbox", nil)
			if err != nil {
				t.Fatal(err)
			}
			for {
				_, err = s.Next(ctx)
				if !errors.Is(err, ErrUnconfirmed) {
					break
				}
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Next: %v, want ErrUnauthenticated", err)
			}
			if !errors.Is(c.Err(), ErrUnauthenticated) {
				t.Fatalf("Err: %v, want ErrUnauthenticated", c.Err())
			}
			if n := calls.Load(); n > 3 {
				t.Fatalf("Options.Token called %d times for a token the server refuses", n)
			}
			t.Logf("%s: ended after %d token fetches: %v", tc.name, calls.Load(), err)
		})
	}
}

// readExpiring reads with next until it has the n messages the publisher
// reports on published (data 0..n-1), counting the lost and duplicated.
func readExpiring(t *testing.T, ctx context.Context, next func(context.Context) (Message, error), published chan int, state func() string) (got, lost, dup, n int) {
	t.Helper()
	seen := map[int]int{}
	n, want, idle := -1, 0, 0
	for n < 0 || got < n {
		select {
		case n = <-published:
		default:
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		m, err := next(rctx)
		rcancel()
		if errors.Is(err, ErrUnconfirmed) {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && (n < 0 || idle < 20) {
			if n >= 0 {
				idle++ // all published: 20s more for the rest
			}
			continue
		}
		if err != nil {
			if n < 0 {
				n = <-published
			}
			t.Fatalf("after %d of %d messages: %v (%s)", got, n, err, state())
		}
		v := dataValue(m.Data)
		seen[v]++
		if seen[v] > 1 {
			dup++
			continue
		}
		lost += max(v-want, 0)
		want = v + 1
		got++
	}
	return got, lost, dup, n
}

// publishFor publishes data 0, 1, ... to topic on c every 50ms for dur,
// then sends the count on the returned channel.
func publishFor(t *testing.T, ctx context.Context, c *Client, topic string, dur time.Duration) chan int {
	published := make(chan int, 1)
	go func() {
		n := 0
		defer func() { published <- n }()
		for start := time.Now(); time.Since(start) < dur; n++ {
			if _, err := c.Publish(ctx, topic, "", []byte(strconv.Itoa(n))); err != nil {
				t.Errorf("publish %d: %v", n, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return published
}

// TestSubscribeTokenExpiry: the single-topic SubscribeFeed over every
// transport with 5s tokens for 12s: every message once, in order.
func TestSubscribeTokenExpiry(t *testing.T) {
	base := tokenServer(t)
	dur := 12 * time.Second
	for _, tr := range fastTransports() {
		t.Run(tr.Name(), func(t *testing.T) {
			if tr.Name() == "stream" && !testenv.InBrowser() {
				t.Skip(noStreamInNode)
			}
			t.Parallel()
			user := newUser()
			topic := "user:" + user + ":single"
			ctx, cancel := context.WithTimeout(context.Background(), dur+60*time.Second)
			defer cancel()
			var subCalls, pubCalls atomic.Int64
			sub, err := SubscribeFeed(ctx, topic, &Options{URL: base, Transports: []Transport{tr}, Heartbeat: time.Second,
				Token: demoToken(base, user, 5, &subCalls)})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			waitStarted(t, sub)
			pc, err := Connect(ctx, &Options{URL: base, Transports: []Transport{WS{}}, Token: demoToken(base, user, 5, &pubCalls)})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			got, lost, dup, n := readExpiring(t, ctx, sub.Next, publishFor(t, ctx, pc, topic, dur), func() string { return "" })
			st := sub.Stats()
			t.Logf("%s over %v with 5s tokens: messages %d/%d, token fetches %d, reconnects %d, lost %d, duplicated %d (skipped: %d)",
				tr.Name(), dur, got, n, subCalls.Load(), st.Reconnects, lost, dup, st.Duplicates)
			if lost != 0 || dup != 0 || got != n {
				t.Fatalf("lost %d, duplicated %d, got %d of %d", lost, dup, got, n)
			}
			if c := subCalls.Load(); c < 3 {
				t.Fatalf("%d token fetches over %v of 5s tokens", c, dur)
			}
		})
	}
	for _, sf := range subscribers {
		t.Run("refused/"+sf.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var calls atomic.Int64
			sub, err := sf.f(ctx, "user:mallory:inbox", &Options{URL: base, Transports: []Transport{transportByName("longpoll")},
				Token: func(context.Context) (string, error) { calls.Add(1); return "not-a-token", nil }})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if _, err := sub.Next(ctx); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Next: %v, want ErrUnauthenticated", err)
			}
			if c := calls.Load(); c > 3 {
				t.Fatalf("%d token fetches for a refused token", c)
			}
		})
	}
}
