//go:build !unix

package exec

func readUsage() usage { return usage{} }
