// quorum-gomodzip makes the module zip of one module version from a source tree, following the
// module zip rules of golang.org/x/mod/zip (what the go command and module proxies serve), and
// prints its h1: dirhash (what go.sum and the checksum database pin).
//
// Usage: quorum-gomodzip MODULE VERSION MODULE_DIR REPO_ROOT OUT_ZIP
//
// A module in a subdirectory of its repository that has no LICENSE file of its own gets the
// repository root's, as the go command does when it makes the zip from a repository.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: quorum-gomodzip MODULE VERSION MODULE_DIR REPO_ROOT OUT_ZIP")
		os.Exit(2)
	}
	m := module.Version{Path: os.Args[1], Version: os.Args[2]}
	dir, root, out := os.Args[3], os.Args[4], os.Args[5]
	if err := module.Check(m.Path, m.Version); err != nil {
		fail(err)
	}
	src := dir
	if filepath.Clean(dir) != filepath.Clean(root) && !exists(filepath.Join(dir, "LICENSE")) && exists(filepath.Join(root, "LICENSE")) {
		// the source is read-only: make a copy of the module with the root's LICENSE beside it
		copyDir := filepath.Join(os.TempDir(), "module")
		must(copyTree(dir, copyDir))
		must(copyFile(filepath.Join(root, "LICENSE"), filepath.Join(copyDir, "LICENSE")))
		src = copyDir
		fmt.Println("quorum-gomodzip: LICENSE taken from the repository root")
	}
	f, err := os.Create(out)
	must(err)
	if err := modzip.CreateFromDir(f, m, src); err != nil {
		f.Close()
		os.Remove(out)
		fail(err)
	}
	must(f.Close())
	h1, err := dirhash.HashZip(out, dirhash.Hash1)
	must(err)
	fmt.Printf("quorum-gomodzip: %s@%s %s\n", m.Path, m.Version, h1)
}

func exists(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode().IsRegular()
}

func copyTree(from, to string) error {
	return filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			return copyFile(p, target)
		default:
			// the zip rules leave out everything but regular files
			return nil
		}
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "quorum-gomodzip: %v\n", err)
	os.Exit(1)
}
