//go:build !js

// Package brokertest is the conformance suite of broker.Broker: one table
// of tests that every implementation runs from its own tests with Run, so
// the memory and Redis brokers keep one contract (publish and idempotency,
// history and gaps, race-free subscribe, byte bounds, and presence when the
// broker implements it).
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t testing.TB, l broker.Limits) broker.Broker { return memory.New(l) })
//	}
package brokertest
