// Package testutil locates test data for the module's tests.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the module's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Path returns a path under the module's testdata directory.
func Path(elem ...string) string {
	return filepath.Join(append([]string{Root(), "testdata"}, elem...)...)
}

// SharedPath returns a path under the shared data directory and whether it
// exists, for tests that use extra data when it is there.
func SharedPath(elem ...string) (string, bool) {
	p := filepath.Join(append([]string{Root(), "..", "shared"}, elem...)...)
	_, err := os.Stat(p)
	return p, err == nil
}

// Shared returns a path under the project's shared data directory (beside
// the checkout) and skips the test when that file is not there: the module's
// tests must pass in a clone without it.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Root(), "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data not available (%s): %v", filepath.Join(elem...), err)
	}
	return p
}
