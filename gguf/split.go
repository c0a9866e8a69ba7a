package gguf

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// Split-model metadata keys, as written by llama.cpp's gguf-split.
const (
	KeySplitNo     = "split.no"
	KeySplitCount  = "split.count"
	KeySplitTensor = "split.tensors.count"
)

var splitName = regexp.MustCompile(`^(.*)-(\d{5})-of-(\d{5})\.gguf$`)

// SplitPath returns the name of part no (0-based) of count for prefix, the
// way llama.cpp names them: "prefix-00001-of-00003.gguf".
func SplitPath(prefix string, no, count int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.gguf", prefix, no+1, count)
}

// opener opens one part: a reader, its size, and what to close afterwards.
type opener func(path string) (io.ReaderAt, int64, io.Closer, error)

// parseAll parses path and, when its header says it is one part of a split
// model, every other part, merging them into one File.
func openSplit(path string, open opener) (*File, error) {
	return openSplitChunk(path, open, 0)
}

func openSplitChunk(path string, open opener, first int) (f *File, err error) {
	var closers []io.Closer
	defer func() {
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
		}
	}()
	r, size, cl, err := open(path)
	if err != nil {
		return nil, err
	}
	if cl != nil {
		closers = append(closers, cl)
	}
	f, err = parse(r, size, path, first)
	if err != nil {
		return nil, err
	}
	count, no, err := splitInfo(f, path)
	if err != nil || count <= 1 {
		f.closers = closers
		return f, err
	}
	m := splitName.FindStringSubmatch(path)
	if m == nil {
		return nil, &FormatError{Path: path, Field: `kv["split.count"]`,
			Msg: fmt.Sprintf("part %d of %d, but the name does not follow the PREFIX-%05d-of-%05d.gguf pattern needed to find the other parts", no+1, count, no+1, count)}
	}
	if n, _ := strconv.Atoi(m[3]); n != count {
		return nil, &FormatError{Path: path, Field: `kv["split.count"]`, Msg: fmt.Sprintf("split.count %d disagrees with the name's %d parts", count, n)}
	}
	prefix := m[1]
	if no != 0 {
		// Start from the first part so that metadata and order are the model's.
		for _, c := range closers {
			c.Close()
		}
		closers = nil
		return openSplitChunk(SplitPath(prefix, 0, count), open, first)
	}
	for k := 1; k < count; k++ {
		p := SplitPath(prefix, k, count)
		r, size, cl, err := open(p)
		if err != nil {
			return nil, &FormatError{Path: p, Field: "split part", Msg: fmt.Sprintf("part %d of %d of %s cannot be opened", k+1, count, path), Err: fmt.Errorf("%w: %w", ErrMissingPart, err)}
		}
		if cl != nil {
			closers = append(closers, cl)
		}
		pf, err := parse(r, size, p, first)
		if err != nil {
			return nil, err
		}
		pc, pno, err := splitInfo(pf, p)
		if err != nil {
			return nil, err
		}
		if pc != count || pno != k {
			return nil, &FormatError{Path: p, Field: `kv["split.no"]`, Msg: fmt.Sprintf("says part %d of %d, want part %d of %d", pno+1, pc, k+1, count)}
		}
		from := len(f.Tensors)
		f.Tensors = append(f.Tensors, pf.Tensors...)
		pp := pf.Parts[0]
		if err := f.addPart(Part{Path: p, Size: pp.Size, DataOffset: pp.DataOffset}, from); err != nil {
			return nil, err
		}
	}
	if want, ok := f.Metadata.Uint(KeySplitTensor); ok && want != uint64(len(f.Tensors)) {
		return nil, &FormatError{Path: path, Field: `kv["split.tensors.count"]`, Msg: fmt.Sprintf("says %d tensors, the parts hold %d", want, len(f.Tensors))}
	}
	if err := f.index(); err != nil {
		return nil, err
	}
	f.closers = closers
	return f, nil
}

// splitInfo returns split.count (0 when absent) and split.no.
func splitInfo(f *File, path string) (count, no int, err error) {
	cv, ok := f.Metadata.Get(KeySplitCount)
	if !ok {
		return 0, 0, nil
	}
	c, ok := cv.Uint()
	if !ok || c == 0 || c > 9999 {
		return 0, 0, &FormatError{Path: path, Field: `kv["split.count"]`, Msg: fmt.Sprintf("%v, want 1 to 9999", cv.Any())}
	}
	n, _ := f.Metadata.Uint(KeySplitNo)
	if n >= c {
		return 0, 0, &FormatError{Path: path, Field: `kv["split.no"]`, Msg: fmt.Sprintf("%d, want below split.count %d", n, c)}
	}
	return int(c), int(n), nil
}
