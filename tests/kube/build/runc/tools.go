//go:build tools

// The programs of the test node built from this module (tests/kube/node build).
package tools

import (
	_ "github.com/opencontainers/runc"
)
