//go:build !js && !race

package realtime_test

const raceEnabled = false
