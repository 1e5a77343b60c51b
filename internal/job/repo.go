package job

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/history"
)

// OpenRepo opens the configured repository. With repo.url it syncs the
// mirror under dataDir first, unless offline is set (list never touches the
// network), in which case the mirror must already exist. A path that is not
// a repository is a UsageError.
func OpenRepo(ctx context.Context, cfg *config.Config, offline bool) (*history.Repo, error) {
	if cfg.Repo.Path != "" {
		r, err := history.Open(cfg.Repo.Path)
		if errors.Is(err, history.ErrNoRepository) {
			return nil, Usage(err) // a wrong --repo or repo.path (SPEC §4: exit 2)
		}
		return r, err
	}
	mirror := filepath.Join(cfg.DataDir, "repo")
	if offline {
		if _, err := os.Stat(mirror); err != nil {
			return nil, fmt.Errorf("repository %s has no local mirror at %s yet: run `evidence-auditd run` once, or pass --repo DIR", cfg.Repo.URL, mirror)
		}
		r, err := history.Open(mirror)
		if err != nil {
			return nil, fmt.Errorf("open mirror %s: %w", mirror, err)
		}
		return r, nil
	}
	r, err := history.Sync(ctx, cfg.Repo.URL, mirror)
	if err != nil {
		return nil, fmt.Errorf("sync %s into %s: %w", cfg.Repo.URL, mirror, err)
	}
	return r, nil
}

// WalkError words a walk failure; an unknown branch is a UsageError (the
// error lists the repository's branches).
func WalkError(ref string, err error) error {
	err = fmt.Errorf("walk %s: %w", ref, err)
	if errors.Is(err, history.ErrRefNotFound) {
		return Usage(err)
	}
	return err
}

// RepoKey names the audited repository in the ledger and in reports.
func RepoKey(cfg *config.Config) string {
	if cfg.Repo.URL != "" {
		return cfg.Repo.URL
	}
	if abs, err := filepath.Abs(cfg.Repo.Path); err == nil {
		return abs
	}
	return cfg.Repo.Path
}

// AllowlistBytes reads recipes/evidence/allowlist.yaml at commit; nil when
// the repository has none. An unreadable allowlist is warned about and
// treated as absent (every signer unlisted): an audit must not stop over it.
func AllowlistBytes(ctx context.Context, repo *history.Repo, cfg *config.Config, commit string, log *slog.Logger) []byte {
	p := path.Join(cfg.Repo.EvidenceDir, evidence.AllowlistFile)
	data, err := repo.ReadFile(ctx, commit, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		log.Warn("allowlist unreadable; every signer counts as unlisted", "path", p, "err", err)
		return nil
	}
	return data
}

// ParseAllowlist parses allowlist bytes, warning (and classifying every
// signer as unlisted) when they are malformed.
func ParseAllowlist(data []byte, name string, log *slog.Logger) *evidence.Allowlist {
	if data == nil {
		return nil
	}
	al, err := evidence.ParseAllowlist(data)
	if err != nil {
		log.Warn("allowlist malformed; every signer counts as unlisted", "path", name, "err", err)
		return nil
	}
	return al
}

// commitFiles reads repository files at one commit.
type commitFiles struct {
	repo   *history.Repo
	commit string
}

func (c commitFiles) ReadFile(ctx context.Context, p string) ([]byte, error) {
	return c.repo.ReadFile(ctx, c.commit, p)
}
