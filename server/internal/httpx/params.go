//go:build !js

package httpx

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MillisParam reads a duration in milliseconds from q[name], def if absent.
// Out of [min, max] or malformed answers 400.
func MillisParam(w http.ResponseWriter, q url.Values, name string, def, min, max time.Duration) (time.Duration, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	// Compare in milliseconds: multiplying first overflows (2^58 ms is
	// about 1 s after the wrap).
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min.Milliseconds() || n > max.Milliseconds() {
		WriteError(w, http.StatusBadRequest, name+": want milliseconds in ["+strconv.FormatInt(min.Milliseconds(), 10)+", "+strconv.FormatInt(max.Milliseconds(), 10)+"]")
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}
