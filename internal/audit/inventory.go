package audit

import "time"

// PointerVersion is one version of a pointer file as merged on the audited
// branch: the bytes a first-parent commit brought in, and when they left.
type PointerVersion struct {
	Key     VersionKey
	Blob    string // git blob id of Content
	Content []byte // the file as merged (bounded by the history walker)
	// TooLarge is true when the blob exceeded the walker's size limit;
	// Content is then nil and only Blob identifies the bytes.
	TooLarge bool
	AddedAt  time.Time

	// RemovedCommit is the first-parent commit whose tree no longer holds
	// these bytes at Key.Path (deleted, or replaced by an edit); empty while
	// the version is still present at the walked head.
	RemovedCommit string
	RemovedAt     time.Time
}

// Removal records that the version live at Path stopped being present at Commit.
type Removal struct {
	Path   string
	Commit string
	At     time.Time
}

// WalkDelta is what one history walk learned since the previous one.
type WalkDelta struct {
	Ref  string
	From string // commit the walk resumed from; empty for a full walk
	Head string // commit the walk reached
	// Full is true when the walk started from the root: the first walk, or a
	// re-walk because From is no longer on the branch (a rewritten history).
	Full      bool
	Rewritten bool
	Added     []PointerVersion // in merge order
	Removed   []Removal        // versions that were live at From and left since
}
