//go:build !js && !linux

package nginxproc

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
