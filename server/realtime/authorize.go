//go:build !js

package realtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/internal/httpx"
)

// Action is what a client asks to do with a topic.
type Action string

// Actions.
const (
	Subscribe Action = "subscribe" // read: every transport, history included
	Publish   Action = "publish"
)

// Identity is who a request comes from.
type Identity struct {
	// User is the user id ("" for an anonymous client). Presence and the
	// chat show it; two connections of one user are one presence entry.
	User string
	// Expires is when the identity stops being valid (a token's exp);
	// streams that outlive it are closed, and the client reconnects with
	// a fresh token. Zero means never.
	Expires time.Time
	// Grants is what the authenticator attached for Authorize (e.g. a
	// token's own topic permissions); opaque to the Handler.
	Grants any
}

// Errors an Authorizer returns; wrap them to add the reason.
var (
	ErrUnauthenticated = errors.New("realtime: unauthenticated") // 401
	ErrForbidden       = errors.New("realtime: forbidden")       // 403
)

// Authorizer decides who may connect, subscribe and publish. Package auth
// implements it with JWTs and topic rules; an application with its own
// sessions or cookies implements it itself.
type Authorizer interface {
	// Authenticate returns who r comes from, or an error matching
	// ErrUnauthenticated (answered 401 with its text, before any stream
	// slot is taken).
	Authenticate(r *http.Request) (Identity, error)
	// Authorize returns nil when id may do action on topic, or an error
	// matching ErrForbidden (403, or an "err" frame with code
	// "forbidden" in a session).
	Authorize(ctx context.Context, id Identity, topic string, action Action) error
}

// openAccess is the Authorizer of a Handler without Config.Auth: anyone,
// anonymous, may subscribe and publish to any topic (server topics
// excepted, see Config.ServerTopics).
type openAccess struct{}

func (openAccess) Authenticate(*http.Request) (Identity, error) { return Identity{}, nil }
func (openAccess) Authorize(context.Context, Identity, string, Action) error {
	return nil
}

// authenticate runs the Authorizer on r; on failure it has answered 401
// with a JSON reason.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (Identity, bool) {
	id, err := h.auth.Authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="comet"`)
		httpx.WriteError(w, http.StatusUnauthorized, err.Error())
		return Identity{}, false
	}
	if !id.Expires.IsZero() && !id.Expires.After(time.Now()) {
		httpx.WriteError(w, http.StatusUnauthorized, "realtime: unauthenticated: token expired")
		return Identity{}, false
	}
	return id, true
}

// admit authenticates r and authorizes it to subscribe to every topic; on
// refusal it has answered 401 or 403.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, topics ...string) (Identity, bool) {
	id, ok := h.authenticate(w, r)
	if !ok {
		return Identity{}, false
	}
	for _, t := range topics {
		if !h.authorize(w, r, id, t, Subscribe) {
			return Identity{}, false
		}
	}
	return id, true
}

// authorize checks action on topic for id; on refusal it has answered 403.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, id Identity, topic string, action Action) bool {
	if err := h.allowed(r.Context(), id, topic, action); err != nil {
		httpx.WriteError(w, http.StatusForbidden, err.Error())
		return false
	}
	return true
}

// allowed is the one permission check of every transport: internal
// topics refuse clients, server topics refuse client publishes, then the
// Authorizer decides.
func (h *Handler) allowed(ctx context.Context, id Identity, topic string, action Action) error {
	if internalTopic(topic) {
		return fmt.Errorf("%w: topics starting with \"_\" are internal", ErrForbidden)
	}
	if action == Publish && h.serverTopic(topic) {
		return fmt.Errorf("%w: topic %q is published by the server only", ErrForbidden, topic)
	}
	return h.auth.Authorize(ctx, id, topic, action)
}

// closeAtExpiry closes c with CloseTokenExpired when ctx ends because id
// expired (ctx comes from untilExpiry); call the result to stop watching.
func closeAtExpiry(ctx context.Context, c *websocket.Conn, id Identity) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		if !id.Expires.IsZero() && !time.Now().Before(id.Expires) {
			c.Close(CloseTokenExpired, "token expired")
		}
	})
}

// untilExpiry returns a context of ctx that ends when id expires.
func untilExpiry(ctx context.Context, id Identity) (context.Context, context.CancelFunc) {
	if id.Expires.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, id.Expires)
}
