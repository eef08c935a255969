//go:build !js

package main

import (
	"context"
	"errors"
)

func (b *bench) browser(ctx context.Context, sec *section) error  { return errors.New("todo") }
func (b *bench) wire(ctx context.Context, sec *section) error     { return errors.New("todo") }
func (b *bench) latency(ctx context.Context, sec *section) error  { return errors.New("todo") }
func (b *bench) capacity(ctx context.Context, sec *section) error { return errors.New("todo") }
