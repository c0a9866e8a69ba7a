package router

import (
	"context"

	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/measure"
	"github.com/modelfit/modelfit/planner"
)

// LlamaServer returns a Start function that runs llama-server for a plan
// with opts (llamaserver.Start: the plan's arguments, loopback, a free
// port, the process group killed with this process).
func LlamaServer(opts llamaserver.Options) func(ctx context.Context, p *planner.Plan) (Backend, error) {
	return func(ctx context.Context, p *planner.Plan) (Backend, error) {
		s, err := llamaserver.Start(ctx, p, opts)
		if err != nil {
			return nil, err
		}
		return llamaBackend{s}, nil
	}
}

type llamaBackend struct{ s *llamaserver.Server }

func (b llamaBackend) URL() string           { return b.s.URL }
func (b llamaBackend) PID() int              { return b.s.Process.PID() }
func (b llamaBackend) Done() <-chan struct{} { return b.s.Process.Done() }
func (b llamaBackend) Err() error            { return b.s.Wait() }
func (b llamaBackend) Close() error          { return b.s.Close() }

// measureProcess reads a backend's anonymous memory and the model file's
// resident pages from /proc.
func measureProcess(pid int, files ...string) (Measured, error) {
	m, err := measure.Process(pid, files...)
	if err != nil {
		return Measured{}, err
	}
	out := Measured{RSSAnonBytes: m.RSSAnon}
	for _, n := range m.Files {
		out.FileResidentBytes += n
	}
	return out, nil
}
