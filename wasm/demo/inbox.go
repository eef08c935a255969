//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometwasm/comet/wasm/comet"
	"github.com/cometwasm/comet/wasm/xhr"
)

// inboxTTL is how long the section's tokens last: short, so the page
// shows the client refreshing them while the inbox stays live.
const inboxTTL = 30

// inboxSection signs in (POST /demo/token), follows the user's private
// topic user:NAME:inbox on a comet.Client whose Options.Token refreshes
// the token, publishes to it, and shows the server's refusal of another
// user's inbox in plain words.
func inboxSection(cfg config) *card {
	c := newCard("inbox", "Sign-in: a private topic per user",
		"Sign in with any name: the server issues a token (a JWT for "+strconv.Itoa(inboxTTL)+"s) and the client renews it before it expires, without losing or repeating a message. Your inbox user:NAME:inbox is yours alone; try another user's.")
	if !cfg.Tokens {
		c.say("warn", "Tokens are off: this server runs without -token-secret-file, so anyone may follow and publish to any topic and the public sections stay open. Start it with -token-secret-file FILE to try signing in.")
		return c
	}
	user := input("inbox-user", "text", "alice")
	user.SetAttribute("autocomplete", "username")
	signIn := submitButton("inbox-signin", "Sign in")
	signOut := button("inbox-signout", "Sign out", "secondary", nil)
	signOut.SetDisabled(true)
	loginForm := el("form", "row", labelled("Name", user), signIn, signOut)
	text := input("inbox-text", "text", "hello")
	send := submitButton("inbox-send", "Send to my inbox")
	sendForm := el("form", "row", labelled("Message", text), send)
	other := input("inbox-other", "text", "bob")
	peek := button("inbox-peek", "Read their inbox", "", nil)
	poke := button("inbox-poke", "Write to their inbox", "", nil)
	refusal := el("p", "muted", "")
	refusal.SetID("inbox-refusal")
	refusal.SetAttribute("role", "status")
	state := el("p", "counts", "Not signed in.")
	state.SetID("inbox-state")
	log := newLog("inbox-log", "Your inbox", 50)
	add(c.body, loginForm, state, sendForm, log.root,
		el("div", "row", labelled("Another user", other), peek, poke), refusal)

	var mu sync.Mutex
	var client *comet.Client
	var name string
	var stop context.CancelFunc
	current := func() (*comet.Client, string) {
		mu.Lock()
		defer mu.Unlock()
		return client, name
	}
	onClick(signOut, func() {
		mu.Lock()
		if stop != nil {
			stop()
		}
		mu.Unlock()
	})
	onSubmit(loginForm, func() {
		who := strings.TrimSpace(user.Value())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var fetches atomic.Int64
		cl, err := comet.Connect(ctx, &comet.Options{Token: func(ctx context.Context) (string, error) {
			fetches.Add(1)
			return demoSignIn(ctx, who)
		}})
		if err != nil {
			c.fail(err)
			return
		}
		defer cl.Close()
		topic := "user:" + who + ":inbox"
		sub, err := cl.Subscribe(ctx, topic, &comet.SubscribeOptions{Oldest: true})
		if err != nil {
			c.fail(err)
			return
		}
		mu.Lock()
		if stop != nil {
			stop() // one sign-in at a time
		}
		client, name, stop = cl, who, cancel
		mu.Unlock()
		defer func() {
			mu.Lock()
			if client == cl {
				client, name, stop = nil, "", nil
			}
			mu.Unlock()
		}()
		c.fail(nil)
		log.clear()
		signIn.(interface{ SetDisabled(bool) }).SetDisabled(true)
		signOut.SetDisabled(false)
		defer func() {
			signIn.(interface{ SetDisabled(bool) }).SetDisabled(false)
			signOut.SetDisabled(true)
			state.SetTextContent("Not signed in.")
		}()
		c.say("", "Signing in as "+who+"…")
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				st := cl.Stats()
				state.SetTextContent("Signed in as " + who + " · following " + topic + " over " + cl.Active() +
					" · tokens fetched: " + strconv.Itoa(st.Tokens) + " (renewed " + strconv.Itoa(max(st.Tokens-1, 0)) + " times)" +
					" · connections opened: " + strconv.Itoa(st.Connections))
			}
		}()
		defer func() { cancel(); <-done }()
		for m, err := range sub.All(ctx) {
			if err != nil {
				if errors.Is(err, comet.ErrUnconfirmed) {
					c.say("warn", plain(err))
					continue
				}
				if ctx.Err() == nil {
					c.fail(explainAuth(err, who, topic))
				}
				break
			}
			var s string
			if json.Unmarshal(m.Data, &s) != nil {
				s = string(m.Data)
			}
			log.add("", "#"+strconv.FormatUint(m.Offset, 10)+" "+s)
			c.say("ok", "Live: your private inbox.")
		}
		c.say("", "Signed out.")
	})
	onSubmit(sendForm, func() {
		cl, who := current()
		if cl == nil {
			c.say("warn", "Sign in first.")
			return
		}
		data, _ := json.Marshal(text.Value())
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := cl.Publish(ctx, "user:"+who+":inbox", "", data); err != nil {
			c.fail(explainAuth(err, who, "user:"+who+":inbox"))
		}
	})
	try := func(write bool) {
		cl, who := current()
		if cl == nil {
			refusal.SetTextContent("Sign in first.")
			return
		}
		them := strings.TrimSpace(other.Value())
		topic := "user:" + them + ":inbox"
		wait := 15 * time.Second
		if !write {
			wait = 3 * time.Second // a refusal comes at once; silence this long means allowed
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		var err error
		if write {
			_, err = cl.Publish(ctx, topic, "", []byte(`"hi from `+who+`"`))
		} else {
			var s *comet.Subscription
			if s, err = cl.Subscribe(ctx, topic, nil); err == nil {
				for {
					_, err = s.Next(ctx)
					if !errors.Is(err, comet.ErrUnconfirmed) {
						break
					}
				}
				s.Close()
			}
		}
		what := "read"
		if write {
			what = "write to"
		}
		switch {
		case errors.Is(err, comet.ErrForbidden):
			setKind(refusal, "", "bad")
			refusal.SetTextContent("Refused, as it should be: " + topic + " is " + them + "'s private topic. The server's rule user:{sub}:* lets only the user whose token says " + them + " " + what + " it, and your token says " + who + ". Your own inbox goes on working.")
		case err == nil || errors.Is(err, context.DeadlineExceeded):
			setKind(refusal, "", "ok")
			refusal.SetTextContent("Allowed: " + topic + " is your own topic (you are " + who + ").")
		default:
			setKind(refusal, "", "warn")
			refusal.SetTextContent(plain(err))
		}
	}
	onClick(peek, func() { try(false) })
	onClick(poke, func() { try(true) })
	return c
}

// explainAuth says in plain words why the server refused a request.
func explainAuth(err error, who, topic string) error {
	switch {
	case errors.Is(err, comet.ErrUnauthenticated):
		return errors.Join(errors.New("the server does not accept "+who+"'s token, even a fresh one: sign in again"), err)
	case errors.Is(err, comet.ErrToken):
		return errors.Join(errors.New("could not get a token (POST /demo/token)"), err)
	case errors.Is(err, comet.ErrForbidden):
		return errors.Join(errors.New(topic+" is not "+who+"'s to use"), err)
	}
	return err
}

// demoSignIn asks the demo server for a token for user (POST /demo/token).
func demoSignIn(ctx context.Context, user string) (string, error) {
	body, _ := json.Marshal(map[string]any{"user": user, "ttlSeconds": inboxTTL})
	resp, err := xhr.Send(ctx, &xhr.Request{Method: "POST", URL: "/demo/token", Body: body, ResponseType: xhr.ResponseText,
		Header: xhr.Header{"Content-Type": {"application/json"}}})
	if err != nil {
		return "", err
	}
	var r struct{ Token, Error string }
	json.Unmarshal(resp.Bytes(), &r)
	if resp.Status != 200 || r.Token == "" {
		if r.Error == "" {
			r.Error = "status " + strconv.Itoa(resp.Status)
		}
		return "", errors.New("sign-in refused: " + r.Error)
	}
	return r.Token, nil
}
