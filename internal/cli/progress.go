package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressLine draws one self-rewriting status line on stderr for work that
// may take over a second (a header download, loading a model), and only
// when stderr is a terminal: redirected output stays clean.
type progressLine struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	last   time.Time
	drawn  int // width of the line on screen
	active bool
}

// progressDelay is how long work runs before its progress is shown.
const progressDelay = time.Second

// newProgress returns a progress line on w, or nil (which draws nothing)
// when w is not a terminal.
func newProgress(w io.Writer) *progressLine {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f.Fd()) {
		return nil
	}
	return &progressLine{w: w, start: time.Now()}
}

// show draws the status when the work has run for progressDelay, at most
// five times a second.
func (p *progressLine) show(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.start) < progressDelay || now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	line := fmt.Sprintf(format, args...) + fmt.Sprintf(" (%.0f s)", now.Sub(p.start).Seconds())
	pad := max(p.drawn-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.drawn, p.active = len(line), true
}

// done erases the line.
func (p *progressLine) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.active = false
	}
}
