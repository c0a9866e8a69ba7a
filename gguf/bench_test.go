package gguf

import (
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkParse parses each zoo header from disk (the OS page cache), the
// 671B DeepSeek-V3 layout included when the shared data is there.
func BenchmarkParse(b *testing.B) {
	for _, path := range zooFiles(b) {
		b.Run(strings.TrimSuffix(filepath.Base(path), ".header.gguf"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
