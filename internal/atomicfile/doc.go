// Package atomicfile writes files so that readers see either the old content
// or the new, never a torn mix, even across a crash: temp file in the same
// directory, fsync, rename, fsync of the directory.
//
// atomicfile imports no other package of this module.
package atomicfile
