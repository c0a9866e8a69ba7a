package llamaserver

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/exec/launch"
)

// Sentinels to branch on with errors.Is; *Error says the rest.
var (
	ErrNotFound        = errors.New("llama-server not found")
	ErrUnsupportedFlag = errors.New("llama-server lacks a flag the plan needs")
	ErrLoad            = errors.New("llama-server could not load the model")
	ErrOOMKilled       = errors.New("llama-server was killed by the OOM killer")
	ErrPortInUse       = errors.New("llama-server's port is in use")
	ErrExited          = errors.New("llama-server exited")
)

// Error is a failure to start or run llama-server, with llama.cpp's own
// words where it logged any.
type Error struct {
	Kind    error  // one of the sentinels
	Message string // llama.cpp's message (its log line, without the prefix), or why
	Buffer  string // the buffer that could not be allocated ("CPU", "CPU_REPACK", "CUDA0", …)
	Size    uint64 // its size in bytes, where llama.cpp logged it
	Flag    string // the flag the binary lacks
	Port    int    // the port that was in use
	// Exit is how the process ended, when it did.
	Exit *launch.ExitError
	// LogTail is the end of the server's log.
	LogTail string
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString("llamaserver: ")
	sb.WriteString(e.Kind.Error())
	if e.Message != "" {
		sb.WriteString(": ")
		sb.WriteString(e.Message)
	}
	if e.Exit != nil && e.Kind != ErrOOMKilled {
		fmt.Fprintf(&sb, " (exit status %d)", e.Exit.ExitStatus())
	}
	return sb.String()
}

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the process's exit, when it ended.
func (e *Error) Unwrap() error {
	if e.Exit == nil {
		return nil
	}
	return e.Exit
}

var (
	// ggml-alloc.c: "%s: failed to allocate %s buffer of size %zu"
	allocFailed = regexp.MustCompile(`failed to allocate (\S+) buffer of size (\d+)`)
	// llama-model.cpp: "unable to allocate %s buffer"
	unableAlloc = regexp.MustCompile(`unable to allocate (\S+) buffer`)
	// llama.cpp: "%s: error loading model: %s"
	loadError = regexp.MustCompile(`error loading model: (.*)`)
	// server-http.cpp: "couldn't bind HTTP server socket, hostname: %s, port: %d"
	bindFailed = regexp.MustCompile(`couldn't bind HTTP server socket, hostname: \S+, port: (\d+)`)
	// arg.cpp: "error: invalid argument: %s"
	badArg = regexp.MustCompile(`error: (?:invalid|unknown) argument: (\S+)`)
	// llama-context.cpp: "failed to initialize the context: %s"
	ctxFailed = regexp.MustCompile(`failed to initialize the context: (.*)`)
	// the log's prefix: "0.00.034.128 E " (timestamps), or none
	logPrefix = regexp.MustCompile(`^(?:\d+\.\d+\.\d+\.\d+ [A-Z] )?`)
)

// classify turns a server that stopped before it was ready into a typed
// error, from its log and its exit.
func classify(log string, exit *launch.ExitError) *Error {
	e := &Error{Exit: exit, LogTail: tailLines(log, 20)}
	line := func(re *regexp.Regexp) []string {
		m := re.FindStringSubmatchIndex(log)
		if m == nil {
			return nil
		}
		out := make([]string, len(m)/2+1)
		for i := 0; i < len(m)/2; i++ {
			if m[2*i] >= 0 {
				out[i] = log[m[2*i]:m[2*i+1]]
			}
		}
		out[len(out)-1] = lineAt(log, m[0])
		return out
	}
	switch {
	case exit != nil && exit.OOMKilled:
		e.Kind = ErrOOMKilled
		e.Message = "the kernel killed it for memory (exit status 137)"
		if l := lastLine(log); l != "" {
			e.Message += "; its last line: " + l
		}
	case line(badArg) != nil:
		m := line(badArg)
		e.Kind, e.Flag, e.Message = ErrUnsupportedFlag, m[1], m[2]
	case line(bindFailed) != nil:
		m := line(bindFailed)
		e.Kind, e.Message = ErrPortInUse, m[2]
		e.Port, _ = strconv.Atoi(m[1])
	case line(allocFailed) != nil:
		m := line(allocFailed)
		e.Kind, e.Buffer, e.Message = ErrLoad, m[1], m[3]
		e.Size, _ = strconv.ParseUint(m[2], 10, 64)
		if u := line(unableAlloc); u != nil {
			e.Message += "; " + u[2]
		} else if c := line(ctxFailed); c != nil {
			e.Message += "; " + c[1]
		}
	case line(unableAlloc) != nil:
		m := line(unableAlloc)
		e.Kind, e.Buffer, e.Message = ErrLoad, m[1], m[2]
	case line(loadError) != nil:
		m := line(loadError)
		e.Kind, e.Message = ErrLoad, m[2]
	case strings.Contains(log, "failed to load model"):
		e.Kind, e.Message = ErrLoad, lineAt(log, strings.Index(log, "failed to load model"))
	case strings.Contains(log, "exiting due to model loading error"):
		e.Kind, e.Message = ErrLoad, lineAt(log, strings.Index(log, "exiting due to model loading error"))
	default:
		e.Kind = ErrExited
		if l := lastLine(log); l != "" {
			e.Message = "its last line: " + l
		}
	}
	return e
}

// lineAt returns the log line holding byte offset i, without the prefix.
func lineAt(log string, i int) string {
	start := strings.LastIndexByte(log[:i], '\n') + 1
	end := strings.IndexByte(log[i:], '\n')
	if end < 0 {
		end = len(log) - i
	}
	l := strings.TrimSpace(log[start : i+end])
	return strings.TrimSpace(logPrefix.ReplaceAllString(l, ""))
}

func lastLine(log string) string {
	log = strings.TrimRight(log, "\n ")
	if log == "" {
		return ""
	}
	return lineAt(log, len(log)-1)
}

func tailLines(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
