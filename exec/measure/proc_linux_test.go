package measure

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStatus(t *testing.T) {
	status := "Name:\tllama-server\nVmHWM:\t  120000 kB\nVmRSS:\t  100000 kB\nRssAnon:\t   60000 kB\nRssFile:\t   39000 kB\nRssShmem:\t    1000 kB\nVmSwap:\t       0 kB\n"
	var m Memory
	parseStatus([]byte(status), &m)
	if m.PeakRSS != 120000<<10 || m.RSS != 100000<<10 || m.RSSAnon != 60000<<10 || m.RSSFile != 39000<<10 || m.RSSShmem != 1000<<10 {
		t.Errorf("%+v", m)
	}
	stat := "4242 (llama (server)) S 1 4242 4242 0 -1 4194304 12345 0 678 0 1 2 0 0 20 0 9 0 100 0 0\n"
	if minor, major := parseFaults([]byte(stat)); minor != 12345 || major != 678 {
		t.Errorf("faults %d/%d", minor, major)
	}
}

func TestParseSmaps(t *testing.T) {
	smaps := `55d0c0000000-55d0c0100000 r--p 00000000 fd:01 1234                       /models/a b.gguf
Size:               1024 kB
Rss:                 512 kB
7f0000000000-7f0000200000 r--p 00100000 fd:01 1234                       /models/a b.gguf
Rss:                 256 kB
7f1000000000-7f1000001000 r-xp 00000000 fd:01 99                         /usr/lib/libllama.so
Rss:                   4 kB
7f2000000000-7f2000001000 rw-p 00000000 00:00 0 
Rss:                  64 kB
`
	got := parseSmaps([]byte(smaps), map[string]string{"/models/a b.gguf": "a b.gguf", "/none": "none"})
	if got["a b.gguf"] != 768<<10 || got["none"] != 0 || len(got) != 2 {
		t.Errorf("%v", got)
	}
}

// TestProcessSelf maps a file, touches part of it, and allocates memory:
// the file's resident bytes and the anonymous memory must show it.
func TestProcessSelf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.bin")
	const size, touched = 8 << 20, 3 << 20
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	var sum byte
	for i := 0; i < touched; i += 4096 {
		sum += data[i]
	}
	before, err := Process(os.Getpid(), path)
	if err != nil {
		t.Fatal(err)
	}
	if r := before.Files[path]; r < touched || r > touched+64<<10 {
		t.Errorf("file resident %d bytes, touched %d (sum %d)", r, touched, sum)
	}
	s := Sample(context.Background(), os.Getpid(), 5*time.Millisecond)
	buf := make([]byte, 64<<20)
	for i := range buf {
		if i%4096 == 0 {
			buf[i] = 1
		}
	}
	time.Sleep(30 * time.Millisecond)
	peak, last, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if peak.RSSAnon < before.RSSAnon+48<<20 || peak.RSSAnon < last.RSSAnon || peak.PeakRSS < peak.RSS || peak.MinorFaults == 0 {
		t.Errorf("64 MiB touched: anon %d → peak %d (last %d)", before.RSSAnon, peak.RSSAnon, last.RSSAnon)
	}
	buf[0] = 2
	if _, err := Process(1 << 30); err == nil {
		t.Error("a process that does not exist has memory")
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add("Name:\tx\nRssAnon:\t 12 kB\n", "1 (x) S 1 2 3 4 5 6 7 8 9 10", "7f00-7f01 r--p 0 0:0 1 /m\nRss: 4 kB\n")
	f.Add("", ")", "-\n")
	f.Fuzz(func(t *testing.T, status, stat, smaps string) {
		var m Memory
		parseStatus([]byte(status), &m)
		parseFaults([]byte(stat))
		parseSmaps([]byte(smaps), map[string]string{"/m": "m"})
	})
}
