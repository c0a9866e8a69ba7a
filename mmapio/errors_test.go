package mmapio

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
		is   error
	}{
		{"mlock over the limit", &MlockError{Path: "m.gguf", Bytes: 1 << 20, Limit: 8 << 20, Err: syscall.ENOMEM},
			[]string{"mmapio: mlock m.gguf", "RLIMIT_MEMLOCK 8388608 bytes", "ulimit -l", "CAP_IPC_LOCK"}, syscall.ENOMEM},
		{"mlock with the capability", &MlockError{Path: "m.gguf", Bytes: 1 << 20, Limit: 8 << 20, Capable: true, Err: syscall.ENOMEM},
			[]string{"does not apply", "out of memory"}, syscall.ENOMEM},
		{"mlock unlimited", &MlockError{Path: "m.gguf", Bytes: 1 << 20, Limit: ^uint64(0), Err: syscall.EAGAIN},
			[]string{"does not apply"}, syscall.EAGAIN},
		{"fault", &FaultError{Path: "m.gguf", Offset: 4096},
			[]string{"mmapio: m.gguf", "offset 4096", "truncated"}, ErrFault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if !errors.Is(tc.err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", tc.err, tc.is)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []Range
		want []Range
	}{
		{"empty", nil, []Range{}},
		{"drops empty", []Range{{0, 5, 0}}, []Range{}},
		{"sorts by part then offset", []Range{{1, 0, 1}, {0, 10, 1}, {0, 0, 1}}, []Range{{0, 0, 1}, {0, 10, 1}, {1, 0, 1}}},
		{"joins overlap and contact", []Range{{0, 0, 10}, {0, 5, 10}, {0, 15, 1}}, []Range{{0, 0, 16}}},
		{"keeps a contained range", []Range{{0, 0, 100}, {0, 10, 5}}, []Range{{0, 0, 100}}},
		{"never joins parts", []Range{{0, 0, 10}, {1, 0, 10}}, []Range{{0, 0, 10}, {1, 0, 10}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := merge(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("merge(%v) = %v, want %v", tc.in, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("merge(%v) = %v, want %v", tc.in, got, tc.want)
				}
			}
		})
	}
}

func TestSplit(t *testing.T) {
	cs, total := split([]Range{{0, chunkBytes - 10, 20}, {1, 0, 2*chunkBytes + 1}})
	want := []chunk{
		{0, chunkBytes - 10, chunkBytes, 0},
		{0, chunkBytes, chunkBytes + 10, 10},
		{1, 0, chunkBytes, 20},
		{1, chunkBytes, 2 * chunkBytes, 20 + chunkBytes},
		{1, 2 * chunkBytes, 2*chunkBytes + 1, 20 + 2*chunkBytes},
	}
	if total != 2*chunkBytes+21 || len(cs) != len(want) {
		t.Fatalf("split: %d chunks, %d bytes", len(cs), total)
	}
	for i := range cs {
		if cs[i] != want[i] {
			t.Errorf("chunk %d = %+v, want %+v", i, cs[i], want[i])
		}
	}
}
