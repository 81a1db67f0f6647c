package reportstest

import "runtime"

// Allocated is the number of bytes f allocates (every goroutine's, so a
// bound on it must leave room for the runtime's own): the fuzz targets'
// check that a decoder's memory stays in proportion to its input.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
