//go:build !js

package auth_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/auth"
)

// Every request needs a token; each user reads and writes only their own
// "user:ID:*" topics besides the shared ones.
func Example() {
	tokens := &auth.Tokens{
		Secret: []byte("a key of at least 32 random bytes!"),
		Rules: []auth.Rule{
			{Pattern: "user:{sub}:*", Subscribe: auth.Users, Publish: auth.Users},
			{Pattern: "user:*", Subscribe: auth.Nobody, Publish: auth.Nobody},
			{Pattern: "*", Subscribe: auth.Users, Publish: auth.Users},
		},
	}
	rt, err := realtime.New(realtime.Config{Auth: tokens})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	http.Handle("/realtime/", http.StripPrefix("/realtime", rt))

	// Your login endpoint hands the browser a token:
	tok, _ := tokens.Issue("alice", 15*time.Minute, nil, nil)
	c, _ := tokens.Parse(tok)
	fmt.Println(c.Subject)
	// Output: alice
}
