package units

import "testing"

func TestBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.00 KiB"}, {1536, "1.50 KiB"},
		{4912898304, "4.58 GiB"}, {244142971904, "227.38 GiB"}, {-2048, "-2.00 KiB"}, {1 << 50, "1.00 PiB"},
	}
	for _, tt := range tests {
		if got := Bytes(tt.n); got != tt.want {
			t.Errorf("Bytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := Bytes(uint64(3 << 30)); got != "3.00 GiB" {
		t.Errorf("uint64: %q", got)
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{0, "0"}, {48123, "48100"}, {59.44, "59.4"}, {0.5561, "0.556"}, {0.001474, "0.00147"},
		{1.96e3, "1960"}, {2.41e4, "24100"}, {13.9, "13.9"}, {100, "100"}, {9.999, "10.0"}, {-3.14159, "-3.14"},
	}
	for _, tt := range tests {
		if got := Number(tt.x); got != tt.want {
			t.Errorf("Number(%g) = %q, want %q", tt.x, got, tt.want)
		}
	}
}
