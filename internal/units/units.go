// Package units formats byte counts for people.
package units

import "strconv"

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
