//go:build !js && race

package realtime_test

// raceEnabled: the race detector makes stacks about twice as large.
const raceEnabled = true
