//go:build !js

package broker

import (
	"encoding/json"
	"unicode/utf8"
)

// validJSON reports whether b is one JSON value in UTF-8 (RFC 8259).
func validJSON(b []byte) bool { return json.Valid(b) && utf8.Valid(b) }
