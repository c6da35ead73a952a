package ocisync

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/klog/v2"
)

// noFurtherSyncsLog is logged once a digest-pinned image has been synced (pkg/oci NoFurtherSyncsLog).
const noFurtherSyncsLog = "Image has been synced, and no further syncs will occur"

// tmpLinkName is the temporary symlink that is renamed over <root>/<dest> (pkg/util UpdateSymlink).
const tmpLinkName = "tmp-link"

// hasDigest reports whether the image reference pins a digest (name.NewDigest accepts it).
func hasDigest(image string) bool {
	_, err := name.NewDigest(image)
	return err == nil
}

// defaultDest is --dest when unset: the last path element of the image.
func defaultDest(image string) string {
	parts := strings.Split(strings.Trim(image, "/"), "/")
	return parts[len(parts)-1]
}

// pullImage resolves the reference and fetches the manifest (an index resolves to linux/amd64, remote's default).
// The error texts are the real ones: "failed to parse reference %q: ..." and "failed to pull image <image>: ...",
// the rest being go-containerregistry's own wording (MANIFEST_UNKNOWN, UNAUTHORIZED, the https->http fallback).
func pullImage(image string, opts ...remote.Option) (v1.Image, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, fmt.Errorf("failed to parse reference %q: %v", image, err)
	}
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("failed to pull image %s: %v", image, err)
	}
	return img, nil
}

// fetchPackage pulls image into <root>/<digest hex> and points <root>/<dest> at it (pkg/oci Fetcher.FetchPackage).
func fetchPackage(ctx context.Context, auth authn.Authenticator, image, root, dest string) error {
	img, err := pullImage(image, remote.WithContext(ctx), remote.WithAuth(auth))
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("failed to calculate image digest: %w", err)
	}
	dir := filepath.Join(root, digest.Hex)
	link := filepath.Join(root, dest)
	current, err := filepath.EvalSymlinks(link)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("failed to evaluate the symbolic path %q to the OCI package: %w", link, err)
	}
	if current == dir {
		klog.Infof("no update required with the same image digest hash %q", digest)
		return nil
	}
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("failed to create directory %q: %w", dir, err)
		}
	} else if err != nil {
		return fmt.Errorf("failed to check the directory %q: %w", dir, err)
	}
	if err := untar(mutate.Extract(img), dir); err != nil {
		return fmt.Errorf("failed to extract the image and write to the directory %q: %w", dir, err)
	}
	klog.Infof("pulled image digest %q", digest)
	return switchSymlink(root, link, dir, current)
}

// untar writes the flattened image filesystem (mutate.Extract's tar stream) under dir, the way the real extract
// does: directory entries are created with their mode, any entry with a link name becomes a symlink (a failure is
// only a warning), everything else is written as a regular file with the entry's mode. Parent directories are
// NOT created for files: a tar without directory entries for nested files fails with the open error.
func untar(stream io.ReadCloser, dir string) error {
	defer func() {
		if err := stream.Close(); err != nil {
			klog.Warningf("failed to close ioReader: %v", err)
		}
	}()
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, hdr.Name)
		info := hdr.FileInfo()
		switch {
		case info.IsDir():
			if err := os.MkdirAll(target, info.Mode()); err != nil {
				return err
			}
		case hdr.Linkname != "":
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				klog.Warning(err)
			}
		default:
			if err := writeFile(target, os.FileMode(hdr.Mode), tr); err != nil {
				return err
			}
		}
	}
}

func writeFile(path string, mode os.FileMode, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	defer func() {
		if err := f.Close(); err != nil {
			klog.Warningf("failed to close file %q: %v", f.Name(), err)
		}
	}()
	_, err = io.Copy(f, r)
	return err
}

// switchSymlink atomically repoints link at dir (a temporary link renamed over it) and removes the previous
// package directory (pkg/util UpdateSymlink).
func switchSymlink(root, link, dir, previous string) error {
	tmp := filepath.Join(root, tmpLinkName)
	if err := os.Symlink(dir, tmp); err != nil {
		return fmt.Errorf("unable to create symlink: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return fmt.Errorf("unable to replace symlink: %w", err)
	}
	if err := os.RemoveAll(previous); err != nil {
		klog.Warningf("unable to remove the previously package directory %s: %v", previous, err)
	}
	klog.Infof("symlink %q updates to %q", link, dir)
	return nil
}
