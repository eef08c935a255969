//go:build !js

package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/auth"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

var demoRules = []auth.Rule{
	{Pattern: "user:{sub}:*", Subscribe: auth.Users, Publish: auth.Users},
	{Pattern: "user:*", Subscribe: auth.Nobody, Publish: auth.Nobody},
	{Pattern: "clock", Subscribe: auth.Anyone, Publish: auth.Nobody},
	{Pattern: "*", Subscribe: auth.Users, Publish: auth.Users},
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// server is a realtime Handler with tokens, mounted under /rt/.
func server(t *testing.T, tokens *auth.Tokens) *httptest.Server {
	t.Helper()
	rt, err := realtime.New(realtime.Config{Auth: tokens, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/rt/", http.StripPrefix("/rt", rt))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { rt.Close(); ts.Close() })
	return ts
}

func do(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHostileTokens(t *testing.T) {
	t.Parallel()
	tokens := &auth.Tokens{Secret: secret, Rules: demoRules}
	ts := server(t, tokens)
	alice, err := tokens.Issue("alice", time.Minute, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Minute).Unix()
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","exp":`+jsonInt(exp)+`}`)) + "."
	otherKey := sign(t, jwt.SigningMethodHS256, []byte("another key, another key, another"), jwt.MapClaims{"sub": "alice", "exp": exp})
	hs512 := sign(t, jwt.SigningMethodHS512, secret, jwt.MapClaims{"sub": "alice", "exp": exp})
	expired := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Second).Unix()})
	noExp := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice"})
	noSub := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp})
	huge := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": exp, "pad": strings.Repeat("x", 64<<10)})
	bob, _ := tokens.Issue("bob", time.Minute, nil, nil)
	publish := func(topic string) string { return `{"topic":"` + topic + `","data":1}` }
	for _, tc := range []struct {
		name       string
		method     string
		path, body string
		header     []string
		status     int
		reason     string
	}{
		{"no token", "GET", "/rt/poll?topic=news", "", nil, 401, "token missing"},
		{"alg none", "GET", "/rt/poll?topic=news&token=" + none, "", nil, 401, "signing method none is invalid"},
		{"another key", "GET", "/rt/poll?topic=news&token=" + otherKey, "", nil, 401, "signature is invalid"},
		{"another algorithm", "GET", "/rt/poll?topic=news&token=" + hs512, "", nil, 401, "signing method HS512 is invalid"},
		{"expired", "GET", "/rt/sse?topic=news&token=" + expired, "", nil, 401, "token expired"},
		{"no exp", "GET", "/rt/poll?topic=news&token=" + noExp, "", nil, 401, "token invalid"},
		{"no sub", "GET", "/rt/poll?topic=news&token=" + noSub, "", nil, 401, "no sub"},
		{"malformed", "GET", "/rt/poll?topic=news&token=abc.def", "", nil, 401, "token invalid"},
		{"64 KB token in a header", "POST", "/rt/publish", publish("news"), []string{"Authorization", "Bearer " + huge}, 401, "token over 4096 bytes"},
		{"two different tokens", "GET", "/rt/poll?topic=news&token=" + alice, "", []string{"Authorization", "Bearer " + bob}, 401, "two different tokens"},
		{"not a bearer header", "POST", "/rt/publish", publish("news"), []string{"Authorization", "Basic YTpi"}, 401, "want Bearer"},
		{"another user's private topic", "GET", "/rt/poll?topic=user:bob:inbox&token=" + alice, "", nil, 403, "forbidden"},
		{"publish to another user's topic", "POST", "/rt/publish", publish("user:bob:inbox"), []string{"Authorization", "Bearer " + alice}, 403, "forbidden"},
		{"publish to the clock", "POST", "/rt/publish", publish("clock"), []string{"Authorization", "Bearer " + alice}, 403, "forbidden"},
		{"own private topic", "GET", "/rt/poll?topic=user:alice:inbox&token=" + alice, "", nil, 200, `"messages"`},
		{"same token twice", "GET", "/rt/poll?topic=news&token=" + alice, "", []string{"Authorization", "Bearer " + alice}, 200, `"messages"`},
		{"publish with a header token", "POST", "/rt/publish", publish("news"), []string{"Authorization", "Bearer " + alice}, 200, `"count":1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, ts.URL+tc.path, tc.body, tc.header...)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Fatalf("%s %s: %d %s; want %d containing %q", tc.method, tc.path, status, body, tc.status, tc.reason)
			}
			if status >= 400 {
				var e struct{ Error string }
				if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
					t.Fatalf("error body %q is not a JSON reason", body)
				}
			}
		})
	}
	// The server keeps serving others.
	if status, _ := do(t, "GET", ts.URL+"/rt/poll?topic=news&token="+bob, ""); status != 200 {
		t.Fatalf("a valid client after the attacks: %d", status)
	}
}

func TestReplayAfterExpiry(t *testing.T) {
	t.Parallel()
	tokens := &auth.Tokens{Secret: secret}
	ts := server(t, tokens)
	tok, err := tokens.Issue("carol", 1500*time.Millisecond, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := do(t, "GET", ts.URL+"/rt/poll?topic=a&token="+tok, ""); status != 200 {
		t.Fatalf("fresh token: %d %s", status, body)
	}
	for i := 0; ; i++ { // jwt exp has one-second resolution
		status, body := do(t, "GET", ts.URL+"/rt/poll?topic=a&token="+tok, "")
		if status == 401 && strings.Contains(body, "expired") {
			return
		}
		if i > 60 {
			t.Fatalf("replayed token 3 s after its exp: %d %s", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTokenNarrowsRules(t *testing.T) {
	t.Parallel()
	tokens := &auth.Tokens{Secret: secret, Rules: demoRules}
	ro, err := tokens.Issue("dave", time.Minute, []string{"news*"}, []string{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tokens.Parse(ro)
	if err != nil {
		t.Fatal(err)
	}
	id := realtime.Identity{User: c.Subject, Grants: c}
	ctx := context.Background()
	for _, tc := range []struct {
		topic  string
		action realtime.Action
		ok     bool
	}{
		{"news", realtime.Subscribe, true},
		{"news:sport", realtime.Subscribe, true},
		{"weather", realtime.Subscribe, false},     // narrowed by the token
		{"news", realtime.Publish, false},          // the token publishes nowhere
		{"user:dave:x", realtime.Subscribe, false}, // allowed by the rules, not by the token
		{"clock", realtime.Publish, false},
	} {
		err := tokens.Authorize(ctx, id, tc.topic, tc.action)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, realtime.ErrForbidden) {
			t.Errorf("%s %s: %v, want allowed %v", tc.action, tc.topic, err, tc.ok)
		}
	}
	// "{sub}" matches the user's own id only, never a longer one.
	eve := realtime.Identity{User: "a"}
	if err := tokens.Authorize(ctx, eve, "user:a:b:inbox", realtime.Subscribe); err != nil {
		t.Errorf(`user "a" on user:a:b:inbox: %v (their own prefix)`, err)
	}
	if err := tokens.Authorize(ctx, realtime.Identity{User: "a:b"}, "user:a:b:inbox", realtime.Subscribe); err == nil {
		t.Errorf(`user "a:b" must match no {sub} pattern`)
	}
}

func TestCheckRules(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]auth.Rule{
		{{Pattern: "", Subscribe: auth.Users, Publish: auth.Users}},
		{{Pattern: "a*b", Subscribe: auth.Users, Publish: auth.Users}},
		{{Pattern: "a", Subscribe: "everyone", Publish: auth.Users}},
	} {
		if auth.CheckRules(bad) == nil {
			t.Errorf("CheckRules(%+v) = nil, want an error", bad)
		}
	}
	if err := auth.CheckRules(demoRules); err != nil {
		t.Errorf("demo rules: %v", err)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
