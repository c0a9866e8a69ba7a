package gguf

import (
	"fmt"
	"io"
	"os"
)

// OpenIn is Open confined to the directory of root: the file and the other
// parts of a split model are opened through it, so a name with "..", an
// absolute name, or a symbolic link that leaves the directory is refused
// (os.Root). Part paths are names relative to the root.
func OpenIn(root *os.Root, name string) (*File, error) {
	return openSplit(name, func(path string) (io.ReaderAt, int64, io.Closer, error) {
		fh, err := root.Open(path)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("gguf: %w", err)
		}
		st, err := fh.Stat()
		if err != nil {
			fh.Close()
			return nil, 0, nil, fmt.Errorf("gguf: %w", err)
		}
		if !st.Mode().IsRegular() {
			fh.Close()
			return nil, 0, nil, fmt.Errorf("gguf: %s: not a regular file", path)
		}
		return fh, st.Size(), fh, nil
	})
}
