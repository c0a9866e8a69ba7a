package planner

// SetSplitLeadPeriods sets the periods the split simulation keeps before
// cutting a run of alike layers and returns the previous value.
func SetSplitLeadPeriods(n int) int {
	old := splitLeadPeriods
	splitLeadPeriods = n
	return old
}
