// Package planner decides how a GGUF model should be placed on a machine: the
// memory every device needs under given settings, the best settings for a
// probed or assumed machine, and predictions of load time and speed, each
// choice with its reason. It is pure: no I/O, no environment, no clock.
package planner
