package planner

// SetNoAllocReserve makes the estimates size split graphs as
// llama-fit-params measures them (no graph_get_cb pins) and returns the
// previous setting.
func SetNoAllocReserve(v bool) bool {
	old := noAllocReserve
	noAllocReserve = v
	return old
}

// SetSplitLeadPeriods sets the periods the split simulation keeps before
// cutting a run of alike layers and returns the previous value.
func SetSplitLeadPeriods(n int) int {
	old := splitLeadPeriods
	splitLeadPeriods = n
	return old
}
