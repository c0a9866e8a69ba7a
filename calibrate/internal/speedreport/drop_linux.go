package main

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// dropOthers evicts from the page cache every layout in dir but keep
// (POSIX_FADV_DONTNEED on clean pages). The layouts (22 GB) nearly fill this
// machine's memory: left cached, kswapd reclaims them on one of its two
// cores while llama-bench runs, which slowed decode by up to a third.
func dropOthers(dir, keep string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.gguf"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		if p == keep {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
