package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/modelfit/modelfit/calibrate"
)

// prepare writes each shape in each type into dir (directly, in the mix
// llama-quantize would choose: quantizing a 16 GB F16 file takes an hour
// on a loaded 2-core machine), skipping files already there.
func prepare(ctx context.Context, dir string, shapes []calibrate.Shape, types []string) error {
	for _, s := range shapes {
		for _, typ := range types {
			out := modelPath(dir, s, typ)
			if _, err := os.Stat(out); err == nil {
				continue
			}
			t0 := time.Now()
			if err := calibrate.Write(ctx, out+".part", s, typ, 1); err != nil {
				return err
			}
			if err := os.Rename(out+".part", out); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%s-%s written in %.0f s\n", s.Name, typ, time.Since(t0).Seconds())
		}
	}
	return nil
}

func modelPath(dir string, s calibrate.Shape, typ string) string {
	return filepath.Join(dir, s.Name+"-"+typ+".gguf")
}
