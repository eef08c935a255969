//go:build linux

package nginxproc

import "syscall"

// sysProcAttr makes the kernel kill nginx's master if this process dies
// first, so a crashed test leaves nothing behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
