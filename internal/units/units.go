// Package units formats byte counts for people.
package units

import (
	"math"
	"strconv"
)

// Bytes renders n in binary units with two decimals ("4.58 GiB", "512.00 MiB",
// "1023 B"), the way the plan tables print sizes.
func Bytes[T ~int64 | ~uint64 | ~int](n T) string {
	neg := n < 0
	v := float64(n)
	if neg {
		v = -v
	}
	const unit = 1024
	if v < unit {
		return strconv.FormatInt(int64(n), 10) + " B"
	}
	exp := 0
	for v >= unit && exp < 6 {
		v /= unit
		exp++
	}
	s := strconv.FormatFloat(v, 'f', 2, 64) + " " + "KMGTPE"[exp-1:exp] + "iB"
	if neg {
		s = "-" + s
	}
	return s
}

// Number renders x with three significant digits in plain decimal notation,
// never in exponent form: 48100, 59.4, 0.556, 0.00147.
func Number(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	digits := func(v float64) int { return 2 - int(math.Floor(math.Log10(math.Abs(v)))) }
	d := digits(x)
	p := math.Pow(10, float64(d))
	r := math.Round(x*p) / p // 9.999 → 10: count the digits again
	d = max(digits(r), 0)
	return strconv.FormatFloat(r, 'f', d, 64)
}
