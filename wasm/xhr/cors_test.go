//go:build js && wasm

package xhr_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

// The page is on ServerURL; SecondURL is another origin, so these
// requests are cross-origin and the browser enforces CORS.
const noCORS = "node's xhr2 does not enforce CORS"

func TestCORSAllowed(t *testing.T) {
	testenv.BrowserOnly(t, noCORS)
	resp, err := xhr.Get(context.Background(), testenv.SecondURL(t)+"/cors/simple")
	if err != nil || resp.Status != 200 || !strings.Contains(resp.Text(), `"cors":"simple"`) {
		t.Fatalf("allowed: %v %v", resp, err)
	}
	if got := resp.Header.Get("X-Comet-Info"); got != "exposed" {
		t.Errorf("exposed header = %q", got)
	}
	if got := resp.Header.Get("X-Comet-Hidden"); got != "" {
		t.Errorf("a header not in Expose-Headers is readable: %q", got)
	}
}

func TestCORSDenied(t *testing.T) {
	testenv.BrowserOnly(t, noCORS)
	_, err := xhr.Get(context.Background(), testenv.SecondURL(t)+"/cors/denied")
	if !errors.Is(err, xhr.ErrNetwork) {
		t.Fatalf("denied origin: err = %v, want ErrNetwork (status 0)", err)
	}
}

func TestCORSPreflight(t *testing.T) {
	testenv.BrowserOnly(t, noCORS)
	second := testenv.SecondURL(t)
	resp, err := xhr.Send(context.Background(), &xhr.Request{
		Method: "PUT", URL: second + "/cors/preflight",
		Header: xhr.Header{"X-Comet-Token": {"t0k"}, "Content-Type": {"application/json"}},
		Body:   `{"a":1}`,
	})
	if err != nil || resp.Status != 200 {
		t.Fatalf("preflighted PUT: %v %v", resp, err)
	}
	for _, want := range []string{`"method":"PUT"`, `"token":"t0k"`, `"body":"{\"a\":1}"`} {
		if !strings.Contains(resp.Text(), want) {
			t.Errorf("response %s lacks %s", resp.Text(), want)
		}
	}
	// A header the preflight does not allow: the browser refuses.
	_, err = xhr.Send(context.Background(), &xhr.Request{
		Method: "PUT", URL: second + "/cors/preflight", Header: xhr.Header{"X-Not-Allowed": {"1"}},
	})
	if !errors.Is(err, xhr.ErrNetwork) {
		t.Fatalf("disallowed header: err = %v, want ErrNetwork", err)
	}
	// A method the preflight does not allow.
	_, err = xhr.Send(context.Background(), &xhr.Request{Method: "PATCH", URL: second + "/cors/preflight"})
	if !errors.Is(err, xhr.ErrNetwork) {
		t.Fatalf("disallowed method: err = %v, want ErrNetwork", err)
	}
}

func TestCORSCredentials(t *testing.T) {
	testenv.BrowserOnly(t, noCORS)
	second := testenv.SecondURL(t)
	ctx := context.Background()
	value := "v" + strconv.FormatInt(time.Now().UnixNano(), 36)
	resp, err := xhr.Send(ctx, &xhr.Request{URL: second + "/cors/login?value=" + value, WithCredentials: true})
	if err != nil || resp.Status != 200 {
		t.Fatalf("login: %v %v", resp, err)
	}
	resp, err = xhr.Send(ctx, &xhr.Request{URL: second + "/cors/whoami", WithCredentials: true, ResponseType: xhr.ResponseJSON})
	var who struct{ Cookie string }
	if err != nil || xhrjson.Decode(resp, &who) != nil || who.Cookie != value {
		t.Fatalf("whoami with credentials: %v %v %+v, want cookie %s", resp, err, who, value)
	}
	resp, err = xhr.Send(ctx, &xhr.Request{URL: second + "/cors/whoami", ResponseType: xhr.ResponseJSON})
	who.Cookie = ""
	if err != nil || xhrjson.Decode(resp, &who) != nil || who.Cookie != "" {
		t.Fatalf("whoami without credentials sent the cookie: %+v %v", who, err)
	}
	// A credentialed request to an endpoint that does not allow
	// credentials is refused, even though the origin is allowed.
	_, err = xhr.Send(ctx, &xhr.Request{URL: second + "/cors/simple", WithCredentials: true})
	if !errors.Is(err, xhr.ErrNetwork) {
		t.Fatalf("credentials without Allow-Credentials: err = %v, want ErrNetwork", err)
	}
}
