package history

// SetMaxPacks lowers the pack count at which Sync repacks, for tests.
func SetMaxPacks(n int) (restore func()) {
	old := maxPacks
	maxPacks = n
	return func() { maxPacks = old }
}

// SetWalkSplit sets how many goroutines read a long chain and the fewest
// links each is given, for tests.
func SetWalkSplit(workers, minLinks int) (restore func()) {
	oldW, oldM := walkWorkers, minSegment
	walkWorkers, minSegment = workers, minLinks
	return func() { walkWorkers, minSegment = oldW, oldM }
}
