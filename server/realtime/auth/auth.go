//go:build !js

package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/wire"
)

// Who may do an action on a topic.
type Who string

// Values of Who.
const (
	Anyone Who = "anyone" // any request; without a token too when Anonymous
	Users  Who = "users"  // any request with a valid token
	Nobody Who = "nobody"
)

// Rule says who may subscribe and publish to the topics Pattern matches.
type Rule struct {
	Pattern   string `json:"pattern"`
	Subscribe Who    `json:"subscribe"`
	Publish   Who    `json:"publish"`
}

// Claims are the claims of a comet token.
type Claims struct {
	jwt.RegisteredClaims
	// Subscribe and Publish, when present, narrow what the token may do
	// to the topics these patterns match (same syntax as Rule.Pattern); an
	// empty list allows nothing.
	Subscribe []string `json:"subscribe,omitzero"`
	Publish   []string `json:"publish,omitzero"`
}

// Tokens implements realtime.Authorizer with HS256 JWTs and Rules.
type Tokens struct {
	// Secret is the HMAC key. Required.
	Secret []byte
	// Rules decide per topic. Defaults to one rule: users may subscribe
	// and publish to every topic.
	Rules []Rule
	// Anonymous lets requests without a token in, as user "": only rules
	// that say "anyone" apply to them. Defaults to false: every request
	// needs a token.
	Anonymous bool
	// MaxTokenBytes bounds a token. Defaults to 4096.
	MaxTokenBytes int
}

var _ realtime.Authorizer = (*Tokens)(nil)

// LoadRules reads a JSON array of Rules from path and checks them.
func LoadRules(path string) ([]Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rules []Rule
	if err := json.Unmarshal(b, &rules); err != nil {
		return nil, fmt.Errorf("auth: rules %s: %w", path, err)
	}
	return rules, CheckRules(rules)
}

// CheckRules reports the first malformed rule.
func CheckRules(rules []Rule) error {
	for i, r := range rules {
		if r.Pattern == "" || strings.Contains(strings.TrimSuffix(r.Pattern, "*"), "*") {
			return fmt.Errorf("auth: rule %d: pattern %q: want a topic, or a prefix ending in *", i, r.Pattern)
		}
		for _, w := range []Who{r.Subscribe, r.Publish} {
			if w != Anyone && w != Users && w != Nobody {
				return fmt.Errorf("auth: rule %d (%s): %q: want anyone, users or nobody", i, r.Pattern, w)
			}
		}
	}
	return nil
}

func (t *Tokens) maxBytes() int {
	if t.MaxTokenBytes > 0 {
		return t.MaxTokenBytes
	}
	return 4096
}

// tokenOf returns the token of r: the Bearer header or the token query
// parameter; two different ones are an error.
func tokenOf(r *http.Request) (string, error) {
	var header string
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, tok, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", errors.New("Authorization: want Bearer TOKEN")
		}
		header = strings.TrimSpace(tok)
	}
	query := r.URL.Query().Get("token")
	if header != "" && query != "" && header != query {
		return "", errors.New("two different tokens (header and query)")
	}
	if header != "" {
		return header, nil
	}
	return query, nil
}

// Authenticate implements realtime.Authorizer.
func (t *Tokens) Authenticate(r *http.Request) (realtime.Identity, error) {
	tok, err := tokenOf(r)
	if err != nil {
		return realtime.Identity{}, fmt.Errorf("%w: %v", realtime.ErrUnauthenticated, err)
	}
	if tok == "" {
		if t.Anonymous {
			return realtime.Identity{}, nil
		}
		return realtime.Identity{}, fmt.Errorf("%w: token missing (Authorization: Bearer, or token=)", realtime.ErrUnauthenticated)
	}
	c, err := t.Parse(tok)
	if err != nil {
		return realtime.Identity{}, err
	}
	return realtime.Identity{User: c.Subject, Expires: c.ExpiresAt.Time, Grants: c}, nil
}

// Parse verifies tok and returns its claims; errors match
// realtime.ErrUnauthenticated and say why.
func (t *Tokens) Parse(tok string) (*Claims, error) {
	if len(tok) > t.maxBytes() {
		return nil, fmt.Errorf("%w: token over %d bytes", realtime.ErrUnauthenticated, t.maxBytes())
	}
	var c Claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return t.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: token expired", realtime.ErrUnauthenticated)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, fmt.Errorf("%w: %v", realtime.ErrUnauthenticated, err) // wrong key, or an algorithm but HS256
	case err != nil:
		return nil, fmt.Errorf("%w: token invalid: %v", realtime.ErrUnauthenticated, err)
	case c.Subject == "":
		return nil, fmt.Errorf("%w: token has no sub", realtime.ErrUnauthenticated)
	}
	return &c, nil
}

// Issue signs a token for user valid for ttl, narrowed to the given
// patterns when they are not nil.
func (t *Tokens) Issue(user string, ttl time.Duration, subscribe, publish []string) (string, error) {
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: user, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))},
		Subscribe:        subscribe,
		Publish:          publish,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.Secret)
}

// Authorize implements realtime.Authorizer.
func (t *Tokens) Authorize(ctx context.Context, id realtime.Identity, topic string, action realtime.Action) error {
	rules := t.Rules
	if rules == nil {
		rules = []Rule{{Pattern: "*", Subscribe: Users, Publish: Users}}
	}
	for _, r := range rules {
		if !match(r.Pattern, topic, id.User) {
			continue
		}
		who := r.Subscribe
		if action == realtime.Publish {
			who = r.Publish
		}
		switch {
		case who == Nobody, who == Users && id.User == "":
			return fmt.Errorf("%w: %s %q (rule %q: %s)", realtime.ErrForbidden, action, topic, r.Pattern, who)
		}
		if c, ok := id.Grants.(*Claims); ok {
			own := c.Subscribe
			if action == realtime.Publish {
				own = c.Publish
			}
			if own != nil && !matchAny(own, topic, id.User) {
				return fmt.Errorf("%w: %s %q: not in the token's own %s list", realtime.ErrForbidden, action, topic, action)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s %q: no rule matches", realtime.ErrForbidden, action, topic)
}

// match reports whether pattern matches topic for user ("{sub}" in the
// pattern stands for user). An anonymous user, or one whose id is not a
// plain topic segment (with ":" or "/", say), matches no "{sub}" pattern:
// user "a" must not reach the topics of user "a:b".
func match(pattern, topic, user string) bool {
	if strings.Contains(pattern, "{sub}") {
		if user == "" || !wire.ValidTopic(user) || strings.ContainsAny(user, ":/") {
			return false
		}
		pattern = strings.ReplaceAll(pattern, "{sub}", user)
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(topic, p)
	}
	return pattern == topic
}

func matchAny(patterns []string, topic, user string) bool {
	for _, p := range patterns {
		if match(p, topic, user) {
			return true
		}
	}
	return false
}
