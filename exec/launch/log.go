package launch

import (
	"fmt"
	"io"
	"sync"
)

// Log is a process's captured output, bounded: it keeps the first and the
// last half of its limit (a server logs its configuration first and its
// failure last) and counts what it dropped in between. It is safe for
// concurrent use.
type Log struct {
	mu      sync.Mutex
	half    int
	head    []byte
	tail    []byte // the last bytes after head filled up, at most 2*half before trimming
	dropped int64
	total   int64
	out     io.Writer
	outErr  bool
}

func newLog(limit int, out io.Writer) *Log {
	return &Log{half: max(limit/2, 1), out: out}
}

// Write appends p; it never fails (a failing Output is dropped).
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total += int64(len(p))
	if l.out != nil && !l.outErr {
		if _, err := l.out.Write(p); err != nil {
			l.outErr = true
		}
	}
	rest := p
	if n := min(l.half-len(l.head), len(rest)); n > 0 {
		l.head = append(l.head, rest[:n]...)
		rest = rest[n:]
	}
	if len(rest) == 0 {
		return len(p), nil
	}
	l.tail = append(l.tail, rest...)
	if over := len(l.tail) - l.half; over > l.half {
		l.dropped += int64(over)
		l.tail = append(l.tail[:0], l.tail[over:]...)
	}
	return len(p), nil
}

// Bytes returns the captured output: all of it, or its head and tail with
// a line saying how much was left out between them.
func (l *Log) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	tail := l.tail
	dropped := l.dropped
	if over := len(tail) - l.half; over > 0 {
		dropped += int64(over)
		tail = tail[over:]
	}
	out := make([]byte, 0, len(l.head)+len(tail)+64)
	out = append(out, l.head...)
	if dropped > 0 {
		out = fmt.Appendf(out, "\n[… %d bytes of output left out …]\n", dropped)
	}
	return append(out, tail...)
}

// Head returns the first bytes of the output (up to half the limit), where
// a server logs how it was configured.
func (l *Log) Head() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.head...)
}

// Tail returns up to the last n bytes of the output.
func (l *Log) Tail(n int) []byte {
	b := l.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return b
}

// String is Bytes as a string.
func (l *Log) String() string { return string(l.Bytes()) }

// Len is the number of bytes the process wrote in all.
func (l *Log) Len() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
