//go:build !js && !race

package realtime_test

// raceBuild: the race detector enlarges stack frames (the footprint tests).
const raceBuild = false
