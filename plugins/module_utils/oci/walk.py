# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files to package: a sorted walk of the sources, exclusion patterns, and the symlink rules (a link must stay
inside the packaged tree, by its text and by where it really leads).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import fnmatch
import os
import posixpath
import stat

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError

DEFAULT_EXCLUDE = (".git",)
_DEFAULT_EXCLUDE_LIST = list(DEFAULT_EXCLUDE)


class PackagingError(ConfigSyncError, ValueError):
    """The sources cannot be packaged as asked; the message names the option and path at fault."""


class Entry(object):
    """One tar entry: ``name`` inside the image (posix, relative), ``kind`` file|dir|symlink, where it comes from."""

    def __init__(self, name, kind, local_path=None, executable=False, size=0, link_target=None):
        self.name = name
        self.kind = kind
        self.local_path = local_path
        self.executable = executable
        self.size = size
        self.link_target = link_target

    @property
    def sort_key(self):
        # Component-wise order puts a directory right before its own contents.
        return tuple(self.name.split("/"))

    @property
    def display_name(self):
        return self.name + "/" if self.kind == "dir" else self.name

    def __repr__(self):
        return "Entry(%r, %r)" % (self.name, self.kind)


def is_excluded(name, patterns):
    """True when a shell pattern matches the entry's base name or its whole path inside the image."""
    base_name = name.rsplit("/", 1)[-1]
    if patterns == _DEFAULT_EXCLUDE_LIST:
        return base_name == ".git" or name == ".git"
    return any(fnmatch.fnmatchcase(base_name, p) or fnmatch.fnmatchcase(name, p.rstrip("/")) for p in patterns)


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_symlink(local_path, name, target, tree_root, real_root):
    """Refuse a link that leaves the packaged tree, by its text and by where it really leads on disk."""
    if posixpath.isabs(target) or os.path.isabs(target):
        raise PackagingError("symlink %s -> %s is absolute; only relative links inside the packaged tree are allowed" % (local_path, target))
    lexical = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if lexical == ".." or lexical.startswith("../"):
        raise PackagingError("symlink %s -> %s points outside the packaged tree (%s)" % (local_path, target, tree_root))
    real_target = os.path.realpath(os.path.join(os.path.dirname(local_path), target))
    if not _inside(real_target, real_root):
        raise PackagingError("symlink %s -> %s points outside the packaged tree (%s)" % (local_path, target, tree_root))


def _entry_for(local_path, name, tree_root, real_root):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # Image paths are UTF-8 (PAX); a name in another encoding would reach clusters as mojibake.
        raise PackagingError("src %r has a file name that is not valid UTF-8" % local_path.encode("utf-8", "surrogateescape"))
    try:
        info = os.lstat(local_path)
    except OSError as exc:
        raise PackagingError("src %s cannot be read: %s" % (local_path, exc.strerror or exc))
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(local_path)
        _check_symlink(local_path, name, target, tree_root, real_root)
        return Entry(name, "symlink", local_path, link_target=target)
    if stat.S_ISDIR(info.st_mode):
        return Entry(name, "dir", local_path)
    if stat.S_ISREG(info.st_mode):
        if not os.access(local_path, os.R_OK):
            raise PackagingError("src file %s is not readable" % local_path)
        return Entry(name, "file", local_path, executable=bool(info.st_mode & 0o111), size=info.st_size)
    raise PackagingError("src %s is not a regular file, directory or symlink (sockets, devices and FIFOs cannot be packaged)" % local_path)


def _walk(directory, prefix, tree_root, real_root, exclude):
    """Yield entries below ``directory`` (not following directory symlinks), names prefixed by ``prefix``.

    Regular files and directories are told apart by the directory listing's file type (no stat); a file's size and
    execute bits are read when it is opened for the tar. Anything else goes through ``_entry_for``.
    """
    try:
        with os.scandir(directory) as listing:
            children = sorted(listing, key=lambda child: child.name)
    except OSError as exc:
        raise PackagingError("src directory %s cannot be listed: %s" % (directory, exc.strerror or exc))
    for child in children:
        name = prefix + "/" + child.name if prefix else child.name
        name = name.lstrip("/")
        if is_excluded(name, exclude):
            continue
        local_path = child.path
        try:
            kind = "file" if child.is_file(follow_symlinks=False) else "dir" if child.is_dir(follow_symlinks=False) else None
        except OSError:
            kind = None
        if kind == "file" and _is_utf8(name) and os.access(local_path, os.R_OK):
            yield Entry(name, "file", local_path)
            continue
        entry = Entry(name, "dir", local_path) if kind == "dir" and _is_utf8(name) else _entry_for(local_path, name, tree_root, real_root)
        yield entry
        if entry.kind == "dir":
            yield from _walk(local_path, name, tree_root, real_root, exclude)


def _is_utf8(name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _source_path(source, base):
    source = os.path.expanduser(source)
    if base and not os.path.isabs(source):
        source = os.path.join(base, source)
    return os.path.normpath(os.path.abspath(source))


def _parents(name):
    parts = name.split("/")[:-1]
    return ["/".join(parts[:i + 1]) for i in range(len(parts))]


def collect_entries(sources, base=None, exclude=DEFAULT_EXCLUDE):
    """Sorted entries for ``sources`` (files and directories, recursively).

    With ``base``, names are paths relative to ``base`` (relative sources are taken relative to it too, and the
    directories between ``base`` and each source are added); without it, a directory's contents sit at the image
    root and a file sits there by its own name, and a source that is itself a symlink is followed. Symlinks inside
    the tree stay symlinks and must not lead out of it.
    """
    if not sources:
        raise PackagingError("src is empty: give at least one file or directory to package")
    exclude = list(exclude or ())
    base_path = os.path.normpath(os.path.abspath(os.path.expanduser(base))) if base else None
    if base_path and not os.path.isdir(base_path):
        raise PackagingError("base %s is not a directory" % base)
    entries = {}
    for source in sources:
        path = _source_path(source, base_path)
        if not os.path.lexists(path):
            raise PackagingError("src %s does not exist" % source)
        if base_path:
            if not _inside(path, base_path):
                raise PackagingError("src %s is not inside base %s" % (source, base))
            tree_root, name = base_path, os.path.relpath(path, base_path).replace(os.sep, "/")
        elif os.path.isdir(path):
            # A source given directly is followed when it is a symlink (e.g. a "current" release link).
            tree_root, name = path, ""
        else:
            tree_root, name = os.path.dirname(path), os.path.basename(path)
            path = os.path.realpath(path)
        real_root = os.path.realpath(tree_root)
        found = []
        if name in ("", "."):
            found.extend(_walk(path, "", tree_root, real_root, exclude))
        elif not is_excluded(name, exclude):
            found.extend(Entry(parent, "dir", os.path.join(tree_root, parent)) for parent in _parents(name))
            top = _entry_for(path, name, tree_root, real_root)
            found.append(top)
            if top.kind == "dir":
                found.extend(_walk(path, name, tree_root, real_root, exclude))
        for entry in found:
            _merge(entries, entry, source)
    return sorted(entries.values(), key=lambda e: e.sort_key)


def _merge(entries, entry, source):
    known = entries.get(entry.name)
    if known is None:
        entries[entry.name] = entry
    elif not (known.kind == entry.kind == "dir") and known.local_path != entry.local_path:
        # Two sources that give the same directory merge; two different files at one path are a conflict.
        raise PackagingError("src %s puts %s into the image, but another source already did (%s)" % (source, entry.name, known.local_path))
