//go:build js && wasm

package comet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/wasm/ws"
)

// Errors of Options.Token.
var (
	// ErrUnauthenticated: the server answered 401 to a Client without
	// Options.Token, or to a fresh token after refusing the previous one.
	// It is terminal: the Client stops, its subscriptions end with it.
	ErrUnauthenticated = errors.New("comet: unauthenticated (401 without Options.Token, or for a fresh token too)")
	// ErrToken wraps a failure of Options.Token itself.
	ErrToken = errors.New("comet: Options.Token failed")
)

// closeTokenExpired is the WebSocket close code of a connection whose
// token expired (server/realtime CloseTokenExpired).
const closeTokenExpired ws.StatusCode = 4401

// tokenSource holds the current token of Options.Token: it fetches one
// when there is none, when the current one is near its exp, and after a
// 401.
type tokenSource struct {
	fetch func(ctx context.Context) (string, error)
	sem   chan struct{} // one fetch at a time

	mu sync.Mutex // guards the fields below; never held across a fetch

	tok     string
	exp     time.Time // zero: no exp claim (refreshed only after a 401)
	margin  time.Duration
	stale   bool // refused or expired: fetch a new one
	retried bool // tok was fetched because its predecessor was refused
	n       int  // fetches that returned a token
}

func newTokenSource(fetch func(ctx context.Context) (string, error)) *tokenSource {
	if fetch == nil {
		return nil
	}
	return &tokenSource{fetch: fetch, sem: make(chan struct{}, 1)}
}

func (t *tokenSource) lock(ctx context.Context) error {
	select {
	case t.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (t *tokenSource) unlock() { <-t.sem }

// get returns the token to send ("" without Options.Token), fetching a
// new one when needed.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	if t == nil {
		return "", nil
	}
	if err := t.lock(ctx); err != nil {
		return "", err
	}
	defer t.unlock()
	t.mu.Lock()
	if t.tok != "" && !t.stale && (t.exp.IsZero() || time.Until(t.exp) > t.margin) {
		defer t.mu.Unlock()
		return t.tok, nil
	}
	t.mu.Unlock()
	tok, err := t.fetch(ctx)
	if err == nil && tok == "" {
		err = errors.New("empty token")
	}
	if err != nil {
		return "", errors.Join(ErrToken, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.retried = t.stale && t.tok != "" && t.refusedLocked()
	t.tok, t.stale, t.n = tok, false, t.n+1
	t.exp = jwtExp(tok)
	t.margin = 0
	if !t.exp.IsZero() {
		// Refresh when a quarter of the lifetime is left (at most 30s
		// before exp), so a reconnect never waits for a fetch.
		t.margin = min(time.Until(t.exp)/4, 30*time.Second)
	}
	return tok, nil
}

// refusedLocked reports whether the current token was marked stale by a
// refusal rather than by expiry.
func (t *tokenSource) refusedLocked() bool {
	return t.exp.IsZero() || time.Now().Before(t.exp)
}

// refused records a 401: it reports whether a fresh token may fix it
// (false when the current one was itself fetched after a refusal).
func (t *tokenSource) refused() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.retried && !t.stale && t.refusedLocked() {
		return false
	}
	t.stale = true
	return true
}

// refreshAt is when the current token should be replaced (zero: never
// by time).
func (t *tokenSource) refreshAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exp.IsZero() {
		return time.Time{}
	}
	return t.exp.Add(-t.margin)
}

// fetches returns how many tokens were fetched.
func (t *tokenSource) fetches() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// keepFresh refreshes the token before its exp until ctx ends.
func (t *tokenSource) keepFresh(ctx context.Context) {
	for {
		d := time.Second // a token without exp, or none yet: look again later
		at := t.refreshAt()
		if !at.IsZero() {
			d = max(time.Until(at), 10*time.Millisecond)
		}
		tm := time.NewTimer(d)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return
		}
		if at.IsZero() {
			continue
		}
		if _, err := t.get(ctx); err != nil && ctx.Err() == nil {
			tm := time.NewTimer(time.Second) // Options.Token failed: try again soon
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
				return
			}
		}
	}
}

// jwtExp returns the exp claim of a JWT, unverified (the server verifies
// it), or zero when tok is not a JWT with an exp.
func jwtExp(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == "" {
		return time.Time{}
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(f*1e9))
}

// authFailure classifies a link's error: refused is a 401, expired a
// WebSocket closed for its token's expiry.
func authFailure(err error) (refused, expired bool) {
	var se *StatusError
	if errors.As(err, &se) && se.Status == 401 {
		return true, false
	}
	var ce ws.CloseError
	if errors.As(err, &ce) && ce.Code == closeTokenExpired {
		return false, true
	}
	var cp *ws.CloseError
	if errors.As(err, &cp) && cp.Code == closeTokenExpired {
		return false, true
	}
	return false, false
}

// expired marks the current token stale after its connection was closed
// for expiry (a fetch replaces it without counting as a refusal).
func (t *tokenSource) expired() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.exp.IsZero() && time.Until(t.exp) <= t.margin {
		t.stale = true
	}
}

// bearer returns the Authorization header for tok (nil without one).
func bearer(h map[string][]string, tok string) map[string][]string {
	if tok == "" {
		return h
	}
	if h == nil {
		h = map[string][]string{}
	}
	h["Authorization"] = []string{"Bearer " + tok}
	return h
}

// unauthenticated ends the Client after a fresh token was refused: its
// subscriptions end with ErrUnauthenticated.
func (c *Client) unauthenticated(cause error) {
	err := errors.Join(ErrUnauthenticated, cause)
	c.mu.Lock()
	c.lastErr = err
	c.closed = true
	subs := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	for _, s := range subs {
		c.remove(s, err, false)
	}
	c.cancel()
}

// token returns f's token for one request ("" without Feed.Token).
func (f Feed) token(ctx context.Context) (string, error) {
	if f.Token == nil {
		return "", nil
	}
	return f.Token(ctx)
}
