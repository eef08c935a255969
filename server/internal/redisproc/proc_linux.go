//go:build linux

package redisproc

import "syscall"

// sysProcAttr makes the kernel kill redis-server if this process dies
// before it could.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
