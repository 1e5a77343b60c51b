package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// DefaultMaxFileSize is the largest file, in bytes, whose content Walk and
// FilesAt return when no other limit is given (DESIGN: pointer ≤ 1 MiB).
const DefaultMaxFileSize = 1 << 20

// MaxReadFileSize is the largest file, in bytes, that ReadFile returns.
// GitHub ignores a CODEOWNERS file over 3 MiB; nothing the auditor reads at
// the head commit is legitimately larger.
const MaxReadFileSize = 4 << 20

// Errors returned (wrapped) by this package.
var (
	// ErrRefNotFound: the ref names no branch, remote-tracking branch or tag.
	ErrRefNotFound = errors.New("ref not found")
	// ErrTooLarge: a file is larger than the limit of the call that read it.
	ErrTooLarge = errors.New("file too large")
	// ErrNotCommit: an id or ref does not name a commit.
	ErrNotCommit = errors.New("not a commit")
	// ErrNoRepository: the directory is not a git repository (or does not exist).
	ErrNoRepository = errors.New("not a git repository")
)

func init() {
	// go-git serves file:// and local-path remotes by running git-upload-pack;
	// the auditor must work without a git binary, so use go-git's own server
	// in process. Done in init, before any goroutine could read the table.
	client.InstallProtocol("file", server.NewClient(localLoader{}))
}

// localLoader serves local repositories, bare or not, to the in-process
// transport (go-git's server.DefaultLoader only reads bare ones).
type localLoader struct{}

func (localLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	r, err := git.PlainOpenWithOptions(ep.Path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, transport.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.Storer, nil
}

// Repo is a git repository opened for reading. Its methods are safe for
// concurrent use (they are serialized). Close releases its file
// descriptors.
type Repo struct {
	mu   sync.Mutex
	repo *git.Repository
	s    storer.EncodedObjectStorer
	fs   *filesystem.Storage
}

// maxOpenPacks bounds the packfiles a Repo keeps open. go-git otherwise
// reopens the packfile for every object it reads, which dominated the cost
// of a cold walk.
const maxOpenPacks = 32

// objectCacheSize bounds go-git's object cache for a Repo.
const objectCacheSize = 16 * cache.MiByte

// Open opens the repository at dir: a working tree with a .git directory
// (or a .git file naming the git directory) or a bare repository.
func Open(dir string) (*Repo, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("open repository %s: %w", dir, ErrNoRepository)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	plain, ok := r.Storer.(*filesystem.Storage)
	if !ok {
		return &Repo{repo: r, s: r.Storer}, nil
	}
	// Reopen the same git directory with packfile descriptors kept open,
	// and an object cache smaller than go-git's 96 MiB default: a walk
	// reads each tree once, so the cache mostly holds what is done with,
	// and a daemon's peak memory matters more.
	st := filesystem.NewStorageWithOptions(plain.Filesystem(), cache.NewObjectLRU(objectCacheSize),
		filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
	r, err = git.Open(st, nil)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return &Repo{repo: r, s: st, fs: st}, nil
}

// Close releases the packfiles the Repo holds open. The Repo must not be
// used afterwards.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fs == nil {
		return nil
	}
	if err := r.fs.Close(); err != nil {
		return fmt.Errorf("close repository: %w", err)
	}
	return nil
}

// Sync makes dir a bare clone of url and returns it opened: it clones when
// dir is absent or empty, and otherwise fetches every branch of url
// (force-pushes included). After Sync, refs/heads/<b> and
// refs/remotes/origin/<b> both name the remote's branch <b>; local branches
// in dir are overwritten, so dir must belong to the auditor. url may be any
// URL go-git understands, a file:// URL or a local path.
func Sync(ctx context.Context, url, dir string) (*Repo, error) {
	if url == "" {
		return nil, errors.New("sync: empty url")
	}
	if !strings.Contains(url, "://") && !strings.Contains(url, "@") {
		// A local path; make it absolute so it does not depend on the cwd.
		if abs, err := filepath.Abs(url); err == nil {
			url = abs
		}
	}
	empty, err := isEmptyDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sync %s: %w", dir, err)
	}
	var r *git.Repository
	if empty {
		r, err = git.PlainCloneContext(ctx, dir, true, &git.CloneOptions{
			URL:        url,
			RemoteName: git.DefaultRemoteName,
			Tags:       git.NoTags,
		})
		if err != nil {
			return nil, fmt.Errorf("sync: clone %s: %w", url, err)
		}
	} else {
		r, err = git.PlainOpen(dir)
		if err != nil {
			return nil, fmt.Errorf("sync: open %s: %w", dir, err)
		}
		if err := ensureOrigin(r, url); err != nil {
			return nil, fmt.Errorf("sync %s: %w", dir, err)
		}
		err = r.FetchContext(ctx, &git.FetchOptions{
			RemoteName: git.DefaultRemoteName,
			RefSpecs:   []config.RefSpec{fetchSpec},
			Tags:       git.NoTags,
			Force:      true,
			Prune:      true,
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil, fmt.Errorf("sync: fetch %s: %w", url, err)
		}
	}
	if err := mirrorBranches(r); err != nil {
		return nil, fmt.Errorf("sync %s: %w", dir, err)
	}
	if err := compact(r); err != nil {
		return nil, fmt.Errorf("sync %s: %w", dir, err)
	}
	return Open(dir)
}

// maxPacks is how many packfiles a synced mirror may hold before Sync
// repacks it into one. go-git writes one pack per fetch that brings
// anything, and looks objects up pack by pack, so a daemon fetching every
// hour would otherwise slow its walks down week by week.
var maxPacks = 64

func compact(r *git.Repository) error {
	pos, ok := r.Storer.(storer.PackedObjectStorer)
	if !ok {
		return nil
	}
	packs, err := pos.ObjectPacks()
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}
	if len(packs) <= maxPacks {
		return nil
	}
	if err := r.RepackObjects(&git.RepackConfig{}); err != nil {
		return fmt.Errorf("repack %d packs: %w", len(packs), err)
	}
	return nil
}

const fetchSpec = config.RefSpec("+refs/heads/*:refs/remotes/origin/*")

func isEmptyDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}

// ensureOrigin points the origin remote at url (the configured URL may have
// changed since the clone was made).
func ensureOrigin(r *git.Repository, url string) error {
	rem, err := r.Remote(git.DefaultRemoteName)
	if err == nil {
		if urls := rem.Config().URLs; len(urls) == 1 && urls[0] == url {
			return nil
		}
		if err := r.DeleteRemote(git.DefaultRemoteName); err != nil {
			return fmt.Errorf("reset remote: %w", err)
		}
	} else if !errors.Is(err, git.ErrRemoteNotFound) {
		return fmt.Errorf("read remote: %w", err)
	}
	_, err = r.CreateRemote(&config.RemoteConfig{
		Name:  git.DefaultRemoteName,
		URLs:  []string{url},
		Fetch: []config.RefSpec{fetchSpec},
	})
	if err != nil {
		return fmt.Errorf("set remote: %w", err)
	}
	return nil
}

// mirrorBranches sets refs/heads/<b> to refs/remotes/origin/<b> for every
// remote branch, so that a branch name resolves to what the remote serves.
func mirrorBranches(r *git.Repository) error {
	refs, err := r.References()
	if err != nil {
		return fmt.Errorf("list refs: %w", err)
	}
	const prefix = "refs/remotes/origin/"
	var remote []*plumbing.Reference
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		if ref.Type() == plumbing.HashReference && strings.HasPrefix(name, prefix) && name != prefix+"HEAD" {
			remote = append(remote, ref)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list refs: %w", err)
	}
	for _, ref := range remote {
		local := plumbing.NewBranchReferenceName(strings.TrimPrefix(ref.Name().String(), prefix))
		if err := r.Storer.SetReference(plumbing.NewHashReference(local, ref.Hash())); err != nil {
			return fmt.Errorf("update %s: %w", local, err)
		}
	}
	return nil
}

// Head resolves ref (see Walk) and returns its commit id and committer time
// (UTC).
func (r *Repo) Head(ref string) (commit string, at time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, h, err := r.resolve(ref)
	if err != nil {
		return "", time.Time{}, err
	}
	c, err := r.commit(h)
	if err != nil {
		return "", time.Time{}, err
	}
	return h.String(), c.Committer.When.UTC(), nil
}

// resolve turns ref into a full ref name and the commit it points at. A
// full ref ("refs/…") or "HEAD" is used as is; a short name is tried as
// refs/heads/<ref>, refs/remotes/origin/<ref>, then refs/tags/<ref>. An
// empty ref means HEAD. Annotated tags are peeled.
func (r *Repo) resolve(ref string) (plumbing.ReferenceName, plumbing.Hash, error) {
	var candidates []plumbing.ReferenceName
	switch {
	case ref == "" || ref == "HEAD":
		candidates = []plumbing.ReferenceName{plumbing.HEAD}
	case strings.HasPrefix(ref, "refs/"):
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	default:
		candidates = []plumbing.ReferenceName{
			plumbing.NewBranchReferenceName(ref),
			plumbing.NewRemoteReferenceName(git.DefaultRemoteName, ref),
			plumbing.NewTagReferenceName(ref),
		}
	}
	for _, name := range candidates {
		got, err := r.repo.Reference(name, true)
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			continue
		}
		if err != nil {
			return "", plumbing.ZeroHash, fmt.Errorf("resolve %s: %w", name, err)
		}
		h := got.Hash()
		if got.Name().IsTag() {
			// Only tags are expected to name tag objects; not reading the
			// object for a branch keeps an unchanged walk from touching
			// the object store at all.
			if h, err = r.peel(h); err != nil {
				return "", plumbing.ZeroHash, fmt.Errorf("resolve %s: %w", name, err)
			}
		}
		if ref == "" || ref == "HEAD" {
			// Report the branch HEAD points at, if it is symbolic.
			if sym, err := r.repo.Reference(plumbing.HEAD, false); err == nil && sym.Type() == plumbing.SymbolicReference {
				name = sym.Target()
			}
		}
		return name, h, nil
	}
	return "", plumbing.ZeroHash, fmt.Errorf("resolve %q: %w%s", ref, ErrRefNotFound, r.branchHint())
}

// branchHint lists the repository's branches for an unknown ref's error:
// the commonest cause is a default branch called master, not main.
func (r *Repo) branchHint() string {
	refs, err := r.repo.References()
	if err != nil {
		return ""
	}
	defer refs.Close()
	var names []string
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		n := ref.Name()
		switch {
		case n.IsBranch():
			names = append(names, n.Short())
		case n.IsRemote() && !strings.HasSuffix(n.String(), "/HEAD"):
			names = append(names, n.Short())
		}
		if len(names) > 20 {
			return storer.ErrStop
		}
		return nil
	})
	if len(names) == 0 {
		return "; the repository has no branches"
	}
	sort.Strings(names)
	return "; its branches are " + strings.Join(names, ", ") + " (set repo.ref or --ref)"
}

// peel follows annotated tags to the object they name.
func (r *Repo) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := r.s.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read %s: %w", h, err)
		}
		if obj.Type() != plumbing.TagObject {
			return h, nil
		}
		tag, err := object.DecodeTag(r.s, obj)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tag %s: %w", h, err)
		}
		h = tag.Target
	}
	return plumbing.ZeroHash, fmt.Errorf("tag chain at %s too long", h)
}

// commitID turns a commit id (full hex) or a ref into a commit hash.
func (r *Repo) commitID(commit string) (plumbing.Hash, error) {
	if isHex40(commit) {
		return plumbing.NewHash(commit), nil
	}
	_, h, err := r.resolve(commit)
	return h, err
}

func (r *Repo) commit(h plumbing.Hash) (*object.Commit, error) {
	c, err := object.GetCommit(r.s, h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w: %w", h, ErrNotCommit, err)
	}
	return c, nil
}

// ReadFile returns the content of the file at path (slash-separated,
// repository-relative) in commit (a full commit id or a ref). A missing path
// is an error wrapping fs.ErrNotExist; a file over MaxReadFileSize one
// wrapping ErrTooLarge.
func (r *Repo) ReadFile(ctx context.Context, commit, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	root, err := r.rootTree(commit)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", p, commit, err)
	}
	e, err := r.lookup(root, cleanPath(p))
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", p, commit, err)
	}
	if e == nil || !isFile(e.Mode) {
		return nil, fmt.Errorf("read %s at %s: %w", p, commit, fs.ErrNotExist)
	}
	content, tooLarge, err := r.readBlob(e.Hash, MaxReadFileSize)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", p, commit, err)
	}
	if tooLarge {
		return nil, fmt.Errorf("read %s at %s: %w (limit %d bytes)", p, commit, ErrTooLarge, MaxReadFileSize)
	}
	return content, nil
}

// File is one file of a tree, as FilesAt returns it.
type File struct {
	Path    string // repository-relative, slash-separated
	Blob    string // git blob id
	Content []byte // nil when TooLarge
	// TooLarge is true when the file exceeds DefaultMaxFileSize.
	TooLarge bool
}

// FilesAt returns every regular file under dir (recursively) in commit (a
// full commit id or a ref), sorted by path, each with content up to
// DefaultMaxFileSize. A missing dir yields no files and no error; symlinks
// and submodules are left out.
func (r *Repo) FilesAt(ctx context.Context, commit, dir string) ([]File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	root, err := r.rootTree(commit)
	if err != nil {
		return nil, fmt.Errorf("list %s at %s: %w", dir, commit, err)
	}
	dir = cleanPath(dir)
	tree := root
	if dir != "" {
		e, err := r.lookup(root, dir)
		if err != nil {
			return nil, fmt.Errorf("list %s at %s: %w", dir, commit, err)
		}
		if e == nil || e.Mode != filemode.Dir {
			return nil, nil
		}
		tree = e.Hash
	}
	var files []File
	var walk func(prefix string, h plumbing.Hash) error
	walk = func(prefix string, h plumbing.Hash) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := r.tree(h)
		if err != nil {
			return err
		}
		for _, e := range t.Entries {
			p := path.Join(prefix, e.Name)
			switch {
			case e.Mode == filemode.Dir:
				if err := walk(p, e.Hash); err != nil {
					return err
				}
			case isFile(e.Mode):
				content, tooLarge, err := r.readBlob(e.Hash, DefaultMaxFileSize)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				files = append(files, File{Path: p, Blob: e.Hash.String(), Content: content, TooLarge: tooLarge})
			}
		}
		return nil
	}
	if err := walk(dir, tree); err != nil {
		return nil, fmt.Errorf("list %s at %s: %w", dir, commit, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// IsDir reports whether the slash-separated, repository-relative dir is a
// directory at commit. A run uses it to tell an evidence directory that is
// missing (a mistyped repo.evidenceDir) from one that holds no pointers.
func (r *Repo) IsDir(ctx context.Context, commit, dir string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	root, err := r.rootTree(commit)
	if err != nil {
		return false, err
	}
	e, err := r.lookup(root, cleanPath(dir))
	if err != nil {
		return false, err
	}
	return e != nil && e.Mode == filemode.Dir, nil
}

func (r *Repo) rootTree(commit string) (plumbing.Hash, error) {
	h, err := r.commitID(commit)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	c, err := r.commit(h)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.TreeHash, nil
}

// lookup finds the entry at slash-separated p below the tree root; nil when
// absent.
func (r *Repo) lookup(root plumbing.Hash, p string) (*object.TreeEntry, error) {
	if p == "" {
		return &object.TreeEntry{Mode: filemode.Dir, Hash: root}, nil
	}
	h := root
	parts := strings.Split(p, "/")
	for i, name := range parts {
		t, err := r.tree(h)
		if err != nil {
			return nil, err
		}
		e := findEntry(t, name)
		if e == nil {
			return nil, nil
		}
		if i == len(parts)-1 {
			return e, nil
		}
		if e.Mode != filemode.Dir {
			return nil, nil
		}
		h = e.Hash
	}
	return nil, nil
}

func findEntry(t *object.Tree, name string) *object.TreeEntry {
	for i := range t.Entries {
		if t.Entries[i].Name == name {
			return &t.Entries[i]
		}
	}
	return nil
}

func (r *Repo) tree(h plumbing.Hash) (*object.Tree, error) { return readTree(r.s, h) }

func (r *Repo) readBlob(h plumbing.Hash, limit int64) ([]byte, bool, error) {
	return readBlob(r.s, h, limit)
}

func readTree(s storer.EncodedObjectStorer, h plumbing.Hash) (*object.Tree, error) {
	t, err := object.GetTree(s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return t, nil
}

// readBlob returns the blob's bytes, or nil and true when it is larger than
// limit bytes.
func readBlob(s storer.EncodedObjectStorer, h plumbing.Hash, limit int64) ([]byte, bool, error) {
	obj, err := s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, false, fmt.Errorf("read blob %s: %w", h, err)
	}
	if obj.Size() > limit {
		return nil, true, nil
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, false, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("read blob %s: %w", h, err)
	}
	if int64(len(b)) > limit {
		return nil, true, nil
	}
	return b, false, nil
}

func isFile(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
}

func cleanPath(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

func isHex40(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
