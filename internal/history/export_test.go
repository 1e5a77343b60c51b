package history

// SetMaxPacks lowers the pack count at which Sync repacks, for tests.
func SetMaxPacks(n int) (restore func()) {
	old := maxPacks
	maxPacks = n
	return func() { maxPacks = old }
}
