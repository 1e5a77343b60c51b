package registry

// Counts are the HTTP requests a registry received for one repository,
// by endpoint, including requests answered by an injected fault.
type Counts struct {
	Total     int64
	Manifests int64 // /v2/<name>/manifests/<ref>, any method
	Blobs     int64 // /v2/<name>/blobs/..., including uploads
	Referrers int64 // /v2/<name>/referrers/<digest>, served or not
	Tags      int64 // /v2/<name>/tags/list
}

func (r *Registry) count(repo string, kind Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts[repo]
	if c == nil {
		c = &Counts{}
		r.counts[repo] = c
	}
	c.Total++
	switch kind {
	case EndpointManifests:
		c.Manifests++
	case EndpointBlobs:
		c.Blobs++
	case EndpointTags:
		c.Tags++
	case EndpointReferrers:
		c.Referrers++
	}
}

// Counts returns the requests received for repo since Start or the last
// ResetCounts. Repository "" holds the version checks (/v2/) and the catalog.
func (r *Registry) Counts(repo string) Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.counts[repo]; c != nil {
		return *c
	}
	return Counts{}
}

// Requests returns the total requests received for repo; see Counts.
func (r *Registry) Requests(repo string) int64 { return r.Counts(repo).Total }

// TotalRequests returns the requests received for all repositories,
// version checks included.
func (r *Registry) TotalRequests() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, c := range r.counts {
		n += c.Total
	}
	return n
}

// ResetCounts sets every counter back to zero.
func (r *Registry) ResetCounts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts = map[string]*Counts{}
}
