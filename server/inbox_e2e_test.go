//go:build !js

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestE2EInbox: with -token-secret-file the sign-in section follows the
// user's private inbox live, publishes to it, and explains the refusal of
// another user's inbox; without it the section says tokens are off.
func TestE2EInbox(t *testing.T) {
	t.Parallel()
	t.Run("tokens", func(t *testing.T) {
		t.Parallel()
		key := filepath.Join(t.TempDir(), "key")
		must(t, os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
		e := newE2EWith(t, func(c *config) { c.TokenSecretFile = key })
		e.open()
		e.do(chromedp.Click(chromedp.CSS("#inbox-signin")))
		e.waitText("#inbox-state", "Signed in as alice · following user:alice:inbox over ws")
		e.do(chromedp.Click(chromedp.CSS("#inbox-send")))
		e.waitText("#inbox-log", "hello")
		e.waitText("#inbox-status", "Live: your private inbox.")
		e.do(chromedp.Click(chromedp.CSS("#inbox-peek")))
		e.waitText("#inbox-refusal", "Refused, as it should be: user:bob:inbox is bob's private topic")
		e.do(chromedp.Click(chromedp.CSS("#inbox-poke")))
		e.waitText("#inbox-refusal", "lets only the user whose token says bob write to it")
		e.noError("inbox")
		e.sectionShot("inbox")
		e.do(chromedp.Click(chromedp.CSS("#inbox-signout")))
		e.waitText("#inbox-state", "Not signed in.")
	})
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		e := newE2E(t)
		e.open()
		e.waitText("#inbox-status", "Tokens are off")
	})
}
