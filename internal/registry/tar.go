package registry

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
)

// Defaults of TarLimits.
const (
	DefaultTarMaxEntries   = 1024
	DefaultTarMaxEntrySize = 64 << 20  // 64 MiB
	DefaultTarMaxTotalSize = 256 << 20 // 256 MiB, uncompressed
)

// TarLimits bounds ExtractLayer. A zero field takes its default.
type TarLimits struct {
	MaxEntries   int   // headers of any type, directories included; default 1024
	MaxEntrySize int64 // bytes of one file; default 64 MiB
	MaxTotalSize int64 // uncompressed bytes of all files; default 256 MiB
}

func (l TarLimits) withDefaults() TarLimits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultTarMaxEntries
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = DefaultTarMaxEntrySize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultTarMaxTotalSize
	}
	return l
}

// ExtractLayer gunzips and untars a summary layer into memory, keyed by
// clean slash-separated relative path ("./a/b" and "a//b" become "a/b").
// Directories are accepted and not returned; PAX global headers are
// skipped. It refuses, with a KindIntegrity *FetchError: absolute paths,
// any ".." element, backslashes and NUL in names, symlinks, hard links,
// devices and FIFOs, a name given twice, an entry over MaxEntrySize, more
// than MaxEntries headers, more than MaxTotalSize bytes in all, and
// anything that is not gzip-compressed tar.
func ExtractLayer(r io.Reader, lim TarLimits) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := walkLayer(r, lim, func(name string, size int64, content io.Reader) error {
		b := make([]byte, size)
		if _, err := io.ReadFull(content, b); err != nil {
			return err
		}
		files[name] = b
		return nil
	})
	if err != nil {
		return nil, &FetchError{Op: "extract layer", Kind: KindIntegrity, Err: err}
	}
	return files, nil
}

// walkLayer gunzips and untars a summary layer and hands each regular file
// to visit, in archive order, with its clean name, its size from the tar
// header, and its content (exactly size bytes). It enforces everything
// ExtractLayer refuses, before visit sees the entry; its errors are
// integrityErrors, or visit's own wrapped with the entry's name.
func walkLayer(r io.Reader, lim TarLimits, visit func(name string, size int64, content io.Reader) error) error {
	lim = lim.withDefaults()
	// A pooled reader keeps a reference to what it last read from until it
	// is reused: r is handed to it through a detachable wrapper, cut when
	// the walk ends, so that the pool never keeps r (and what r refers to,
	// a layer's kept files) alive.
	src := &detachable{r: r}
	zr, err := gunzip(src)
	if err != nil {
		return integrityf("gzip: %v", err)
	}
	defer func() {
		src.r = nil
		gzipReaders.Put(zr)
	}()
	tr := tar.NewReader(zr)
	seen := map[string]bool{}
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return integrityf("tar: %v", err)
		}
		if n >= lim.MaxEntries {
			return integrityf("more than %d tar entries", lim.MaxEntries)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		clean, err := cleanTarName(h.Name)
		if err != nil {
			return integrityf("tar entry %q: %v", h.Name, err)
		}
		if seen[clean] {
			return integrityf("tar entry %q: duplicate name", h.Name)
		}
		seen[clean] = true
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg: // the reader reports the old TypeRegA as TypeReg
		case tar.TypeSymlink, tar.TypeLink:
			return integrityf("tar entry %q: links are not allowed", h.Name)
		default:
			return integrityf("tar entry %q: type %q is not a regular file or directory", h.Name, string(rune(h.Typeflag)))
		}
		if h.Size < 0 || h.Size > lim.MaxEntrySize {
			return integrityf("tar entry %q: %d bytes exceeds the %d-byte entry limit", h.Name, h.Size, lim.MaxEntrySize)
		}
		if total+h.Size > lim.MaxTotalSize {
			return integrityf("tar contents exceed the %d-byte total limit", lim.MaxTotalSize)
		}
		if err := visit(clean, h.Size, tr); err != nil {
			var ie *integrityError
			if errors.As(err, &ie) {
				return err
			}
			return integrityf("tar entry %q: %v", h.Name, err)
		}
		total += h.Size
	}
}

// gzipReaders keeps gzip readers for reuse: each holds a decompressor
// whose tables cost more to build than a small summary layer takes to
// inflate.
var gzipReaders sync.Pool

// detachable reads from r until r is cut (set to nil).
type detachable struct{ r io.Reader }

func (d *detachable) Read(p []byte) (int, error) {
	if d.r == nil {
		return 0, io.EOF
	}
	return d.r.Read(p)
}

// gunzip is gzip.NewReader(r), from the pool when it can be.
func gunzip(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzipReaders.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			gzipReaders.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

// cleanTarName normalises a tar entry name to a clean relative path and
// refuses names that could escape the extraction root.
func cleanTarName(n string) (string, error) {
	switch {
	case n == "":
		return "", errors.New("empty name")
	case strings.ContainsAny(n, "\\\x00"):
		return "", errors.New("backslash or NUL in name")
	case strings.HasPrefix(n, "/"):
		return "", errors.New("absolute path")
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "", errors.New(`".." in path`)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", fmt.Errorf("name %q names the root", n)
	}
	return c, nil
}
