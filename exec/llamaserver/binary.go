// Package llamaserver runs llama.cpp's llama-server for a plan: it finds the
// binary, learns which flags it has, starts it on a loopback port with the
// plan's arguments, waits for it to be ready, streams completions, reads the
// buffer sizes it logs, and says in typed errors why a start failed.
package llamaserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelfit/modelfit/planner"
)

// BinaryName is the executable looked up on PATH.
const BinaryName = "llama-server"

// Locate finds the llama-server to run: explicit (a --llama-server flag),
// else env (the value of $LLAMA_SERVER, which the caller reads), else
// llama-server on PATH. The error matches ErrNotFound.
func Locate(explicit, env string) (string, error) {
	for _, c := range []struct{ path, from string }{{explicit, "--llama-server"}, {env, "$LLAMA_SERVER"}} {
		if c.path == "" {
			continue
		}
		p, err := exec.LookPath(c.path)
		if err != nil {
			return "", &Error{Kind: ErrNotFound, Message: fmt.Sprintf("%s %s: %v", c.from, c.path, err)}
		}
		return p, nil
	}
	p, err := exec.LookPath(BinaryName)
	if err != nil {
		return "", &Error{Kind: ErrNotFound, Message: "no llama-server on PATH; give its path with --llama-server or $LLAMA_SERVER"}
	}
	return p, nil
}

// Features is what a llama-server binary supports, from its --version and
// --help output.
type Features struct {
	Path    string
	Version string // --version's first line, e.g. "version: 0.2.0-dev (build 10587, commit 3f545becc)"
	Build   int    // llama.cpp's build number; 0 when not printed
	flags   map[string]bool
}

// Has reports whether the binary accepts flag ("--load-mode", "-ngl", …).
func (f *Features) Has(flag string) bool { return f.flags[flag] }

// ArgsStyle is the spelling of the loading mode the binary understands:
// --load-mode where it has it (the classic --mlock means no mmap there),
// else the classic --no-mmap / --mlock.
func (f *Features) ArgsStyle() planner.ArgsStyle {
	if f.Has("--load-mode") {
		return planner.ArgsLoadMode
	}
	return planner.ArgsClassic
}

// Check returns an error matching ErrUnsupportedFlag for the first flag in
// args that the binary does not have.
func (f *Features) Check(args []string) error {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if !isFlag(name) || f.Has(name) {
			continue
		}
		return &Error{Kind: ErrUnsupportedFlag, Flag: name,
			Message: fmt.Sprintf("%s (%s) has no %s flag: the plan needs a newer llama.cpp", f.Path, f.versionOrUnknown(), name)}
	}
	return nil
}

func (f *Features) versionOrUnknown() string {
	if f.Build > 0 {
		return fmt.Sprintf("build %d", f.Build)
	}
	if f.Version != "" {
		return f.Version
	}
	return "unknown version"
}

// isFlag reports whether a is a flag name rather than a value such as -1.
func isFlag(a string) bool {
	n := strings.TrimLeft(a, "-")
	return len(a)-len(n) >= 1 && len(a)-len(n) <= 2 && n != "" && (n[0] >= 'a' && n[0] <= 'z' || n[0] >= 'A' && n[0] <= 'Z')
}

var detected sync.Map // path + mtime → *Features

// Detect runs path --version and --help once (the result is cached per
// binary and modification time) and returns what the binary supports.
func Detect(ctx context.Context, path string) (*Features, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &Error{Kind: ErrNotFound, Message: err.Error()}
	}
	key := path + "@" + st.ModTime().String()
	if f, ok := detected.Load(key); ok {
		return f.(*Features), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	run := func(arg string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, path, arg)
		cmd.Env = append(os.Environ(), "LLAMA_LOG_COLORS=off")
		return cmd.CombinedOutput()
	}
	help, err := run("--help")
	if ctx.Err() != nil {
		return nil, fmt.Errorf("llamaserver: %s --help: %w", path, ctx.Err())
	}
	if err != nil && len(help) == 0 {
		return nil, fmt.Errorf("llamaserver: %s --help: %w", path, err)
	}
	version, _ := run("--version")
	f := parseFeatures(path, help, version)
	if len(f.flags) == 0 {
		return nil, fmt.Errorf("llamaserver: %s --help lists no flags: is it llama-server?", path)
	}
	detected.Store(key, f)
	return f, nil
}

var buildNumber = regexp.MustCompile(`\bbuild[ =:]+(\d+)|version: (\d+) \(`)

// parseFeatures reads the flags from --help output: each option line
// starts with its names ("-c,    --ctx-size N", "--repack, -nr, --no-repack"),
// followed by value placeholders and the description.
func parseFeatures(path string, help, version []byte) *Features {
	f := &Features{Path: path, flags: map[string]bool{}}
	for _, line := range strings.Split(string(help), "\n") {
		if !strings.HasPrefix(line, "-") {
			continue
		}
		for _, tok := range strings.Fields(line) {
			if strings.HasPrefix(tok, "-") {
				for _, name := range strings.Split(strings.TrimRight(tok, ","), ",") {
					if isFlag(name) {
						f.flags[name] = true
					}
				}
				continue
			}
			if !isPlaceholder(tok) {
				break // the description starts
			}
		}
	}
	for _, line := range strings.Split(string(version), "\n") {
		if strings.Contains(line, "version") {
			f.Version = strings.TrimSpace(line)
			break
		}
	}
	if m := buildNumber.FindSubmatch(version); m != nil {
		s := m[1]
		if len(s) == 0 {
			s = m[2]
		}
		f.Build, _ = strconv.Atoi(string(s))
	}
	return f
}

// isPlaceholder reports whether tok is an option's value placeholder
// (N, FNAME, [on|off], <dev1,dev2,..>, {none,mean}, N0,N1,N2,...).
func isPlaceholder(tok string) bool {
	if tok == "" {
		return false
	}
	switch tok[0] {
	case '[', '<', '{':
		return true
	}
	return bytes.IndexFunc([]byte(tok), func(r rune) bool { return r >= 'a' && r <= 'z' }) < 0
}

// errorsAs is errors.As for the package's error type.
func errorsAs(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
