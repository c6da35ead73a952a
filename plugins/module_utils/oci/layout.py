# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic packaging: files -> one tar+gzip layer -> config -> manifest, with their digests. No network.

The same tree gives the same bytes on any machine with the same zlib: entries are sorted, every header carries
the same mtime, uid/gid 0, empty owner names and normalised modes, and gzip writes no name and mtime 0. The tar
is streamed through two hashes (the uncompressed tar is the config's ``diff_id``, the gzip is the layer digest) into
a temporary file in one pass, so memory does not grow with the bundle.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import fnmatch
import hashlib
import json
import os
import posixpath
import stat
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST)
DEFAULT_ARTIFACT_TYPE = "application/vnd.unknown.artifact.v1"
TITLE_ANNOTATION = "org.opencontainers.image.title"
EMPTY_JSON = b"{}"
DEFAULT_EXCLUDE = (".git",)
_DEFAULT_EXCLUDE_LIST = list(DEFAULT_EXCLUDE)
_COPY_BUFFER = 1024 * 1024
# The gzip stream is deflated in blocks of this many input bytes, each primed with the 32 KiB before it (as pigz
# does), so blocks compress on all cores while the output depends only on the input and the level.
GZIP_BLOCK = 1024 * 1024
_DEFLATE_WINDOW = 32 * 1024
_SAMPLE = 16 * 1024
_HASH_QUEUE = 2
# gzip header: magic, deflate, no flags (no name, no comment), mtime 0, no extra flags, OS "unknown".
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


class PackagingError(ValueError):
    """The sources cannot be packaged as asked; the message names the option and path at fault."""


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value):
    """Compact JSON with sorted keys: the same value always gives the same bytes, hence the same digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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


class _HashingWriter(object):
    """A write-only stream that hashes and counts what passes through to ``target``.

    With ``background``, hashing and the write to ``target`` run in order on one thread of their own (sha256 and
    file writes release the GIL), at most _HASH_QUEUE pieces behind; call ``drain`` before reading ``digest``.
    """

    def __init__(self, target, background=False):
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0
        self.executor = ThreadPoolExecutor(1) if background else None
        self.in_flight = collections.deque()

    def _consume(self, data):
        self.hash.update(data)
        self.target.write(data)

    def write(self, data):
        self.size += len(data)
        if self.executor is None:
            self._consume(data)
        else:
            self.in_flight.append(self.executor.submit(self._consume, data))
            while len(self.in_flight) > _HASH_QUEUE:
                self.in_flight.popleft().result()
        return len(data)

    def drain(self):
        while self.in_flight:
            self.in_flight.popleft().result()
        if self.executor is not None:
            self.executor.shutdown()
            self.executor = None

    def abort(self):
        for future in self.in_flight:
            future.cancel()
        self.in_flight.clear()
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None

    def flush(self):
        self.drain()
        self.target.flush()

    def tell(self):
        return self.size

    @property
    def digest(self):
        return "sha256:" + self.hash.hexdigest()


def _tar_info(entry, mtime):
    import tarfile
    info = tarfile.TarInfo(entry.name)
    info.mtime = int(mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.kind == "dir":
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif entry.kind == "symlink":
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, entry.link_target
    else:
        info.type, info.mode = tarfile.REGTYPE, 0o755 if entry.executable else 0o644
    return info


_BLOCK = 512
_RECORD = 20 * _BLOCK
_ZERO_BLOCK = bytes(_BLOCK)
# After the link name: magic "ustar\0" version "00", empty uname/gname, no device numbers, empty prefix, padding.
_USTAR_TAIL = b"ustar\x0000" + bytes(_BLOCK - 257 - 8)
_USTAR_IDS = b"0000000\x00" * 2  # uid, gid 0
_MAX_OCTAL_11 = 8 ** 11
_TYPES = {"file": b"0", "dir": b"5", "symlink": b"2"}
_MODES = {"dir": 0o755, "symlink": 0o777}


def _ascii_field(text, length):
    """``text`` NUL-padded to ``length`` bytes, or None when a plain ustar field cannot hold it."""
    if len(text) > length:
        return None
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    return raw + bytes(length - len(raw))


def tar_header(entry, mtime, size=0):
    """The tar header block(s) for ``entry``: plain ustar bytes built here for the common case (ASCII names of at
    most 100 bytes, sizes and times that fit 11 octal digits), else Python's tarfile PAX header (a ``path``,
    ``linkpath`` or ``size`` record; an ``mtime`` record only for a time past the year 4147). Both give the bytes
    tarfile's PAX format writes."""
    mtime = int(mtime)
    name = entry.name + "/" if entry.kind == "dir" else entry.name
    name_field = _ascii_field(name, 100)
    link_field = _ascii_field(entry.link_target or "", 100)
    if name_field is None or link_field is None or not 0 <= size < _MAX_OCTAL_11 or not 0 <= mtime < _MAX_OCTAL_11:
        import tarfile
        info = _tar_info(entry, mtime)
        info.size = size
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    mode = _MODES.get(entry.kind) or (0o755 if entry.executable else 0o644)
    head = b"%s%07o\x00%s%011o\x00%011o\x00" % (name_field, mode, _USTAR_IDS, size, mtime)
    tail = _TYPES[entry.kind] + link_field + _USTAR_TAIL
    # The checksum counts its own 8-byte field as spaces (256).
    return b"%s%06o\x00 %s" % (head, sum(head) + sum(tail) + 256, tail)


def _read_exactly(fd, size, path):
    """``size`` bytes of an open file (size as recorded in its header); fail loudly if the file shrank meanwhile."""
    data = os.read(fd, size)
    while len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            raise PackagingError("src file %s shrank while it was being packaged" % path)
        data += more
    return data


def write_tar(entries, sink, mtime=0):
    """Write the deterministic tar of ``entries`` to ``sink`` (a ``write`` callable) in pieces of about 1 MiB.

    Small files are read whole (at most _COPY_BUFFER at a time) into one buffer with their headers, so thousands of
    files make a few hundred writes downstream; a larger file streams in _COPY_BUFFER reads. A file is stored with
    the size it has when it is opened; it must not shrink before it is read.
    """
    buffer = bytearray()
    offset = 0
    for entry in entries:
        if entry.kind != "file":
            buffer += tar_header(entry, mtime)
            continue
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(entry.local_path, flags)
        except OSError as exc:
            raise PackagingError("src file %s cannot be read: %s" % (entry.local_path, exc.strerror or exc))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise PackagingError("src %s is no longer a regular file" % entry.local_path)
            size = info.st_size
            entry.executable = bool(info.st_mode & 0o111)
            buffer += tar_header(entry, mtime, size)
            left = size
            while left > 0:
                data = _read_exactly(fd, min(left, _COPY_BUFFER), entry.local_path)
                left -= len(data)
                if len(data) == _COPY_BUFFER:
                    # A large file: its blocks go downstream as read, without a copy into the buffer.
                    offset += len(buffer) + len(data)
                    sink(bytes(buffer))
                    sink(data)
                    buffer.clear()
                    continue
                buffer += data
                if len(buffer) >= _COPY_BUFFER:
                    offset += len(buffer)
                    sink(bytes(buffer))
                    buffer.clear()
        finally:
            os.close(fd)
        if size % _BLOCK:
            buffer += bytes(_BLOCK - size % _BLOCK)
        if len(buffer) >= _COPY_BUFFER:
            offset += len(buffer)
            sink(bytes(buffer))
            buffer.clear()
    # End of archive: two zero blocks, then zeros up to a whole record (20 blocks), as tarfile writes it.
    buffer += _ZERO_BLOCK * 2
    total = offset + len(buffer)
    if total % _RECORD:
        buffer += bytes(_RECORD - total % _RECORD)
    sink(bytes(buffer))
    return total + (_RECORD - total % _RECORD) % _RECORD


def _compresses(block):
    """Whether deflate gains anything on this block, judged from four 16 KiB samples at level 1.

    Already compressed or random content (a .tar.gz inside the bundle, images) would cost a full deflate for no
    gain; such blocks are stored instead. The decision depends only on the block's bytes, so output stays deterministic.
    """
    if len(block) < 4 * _SAMPLE:
        return True
    step = len(block) // 4
    samples = b"".join(block[i * step:i * step + _SAMPLE] for i in range(4))
    return len(zlib.compress(samples, 1)) < 0.97 * len(samples)


_STORED_MAX = 0xFFFF


def _stored_block(block, last):
    """``block`` as raw deflate "stored" blocks of at most 65535 bytes (byte-aligned, so the next block can follow
    directly): what level 0 gives, without zlib copying the bytes through its window first."""
    pieces = []
    view = memoryview(block)
    starts = range(0, len(block), _STORED_MAX) if block else [0]
    for start in starts:
        piece = view[start:start + _STORED_MAX]
        final = last and start + _STORED_MAX >= len(block)
        pieces.append(struct.pack("<BHH", 1 if final else 0, len(piece), len(piece) ^ 0xFFFF))
        pieces.append(piece)
    return b"".join(pieces)


def _deflate_block(block, dictionary, level, last):
    if not level or not _compresses(block):
        return _stored_block(block, last)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY, *([dictionary] if dictionary else []))
    # A sync flush ends the block on a byte boundary so the next block's output can follow it directly.
    return compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class _BlockGzipWriter(object):
    """A write-only gzip stream made of independently deflated blocks (see GZIP_BLOCK): one valid gzip member.

    At most ``2 * workers`` blocks are in flight, so memory stays a few MiB whatever the size of the stream.
    """

    def __init__(self, target, level, workers=None):
        self.target = target
        self.level = level
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.executor = ThreadPoolExecutor(self.workers)
        self.in_flight = collections.deque()
        self.pending = []  # pieces of the next block, joined once when it is full
        self.pending_size = 0
        self.window = b""
        self.crc = 0
        self.size = 0
        target.write(_GZIP_HEADER)

    def write(self, data):
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= GZIP_BLOCK:
            joined = b"".join(self.pending)
            full = len(joined) - len(joined) % GZIP_BLOCK
            for start in range(0, full, GZIP_BLOCK):
                self._submit(joined[start:start + GZIP_BLOCK], last=False)
            rest = joined[full:]
            self.pending, self.pending_size = ([rest] if rest else []), len(rest)
        return len(data)

    def _submit(self, block, last):
        tail = block[-_DEFLATE_WINDOW:] if len(block) >= _DEFLATE_WINDOW else (self.window + block)[-_DEFLATE_WINDOW:]
        dictionary, self.window = self.window, tail
        self.in_flight.append(self.executor.submit(_deflate_block, block, dictionary, self.level, last))
        while len(self.in_flight) > 2 * self.workers:
            self.target.write(self.in_flight.popleft().result())

    def close(self):
        self._submit(b"".join(self.pending), last=True)
        self.pending, self.pending_size = [], 0
        while self.in_flight:
            self.target.write(self.in_flight.popleft().result())
        self.target.write(struct.pack("<II", self.crc & 0xFFFFFFFF, self.size & 0xFFFFFFFF))
        self.executor.shutdown()

    def abort(self):
        self.executor.shutdown(wait=True)


def write_layer(entries, out_stream, mtime=0, compression_level=6, workers=None):
    """Stream the tar+gzip of ``entries`` into ``out_stream``; return (diff_id, digest, compressed size, tar size)."""
    compressed = _HashingWriter(out_stream, background=True)
    try:
        gzip_stream = _BlockGzipWriter(compressed, compression_level, workers)
    except BaseException:
        compressed.abort()
        raise
    uncompressed = _HashingWriter(gzip_stream, background=True)
    try:
        write_tar(entries, uncompressed.write, mtime)
        uncompressed.drain()
        gzip_stream.close()
        compressed.drain()
    except BaseException:
        uncompressed.abort()
        gzip_stream.abort()
        compressed.abort()
        raise
    out_stream.flush()
    return uncompressed.digest, compressed.digest, compressed.size, uncompressed.size


class Blob(object):
    """A blob to push: from bytes in memory (``data``) or a file on disk (``path``)."""

    def __init__(self, media_type, digest, size, data=None, path=None, annotations=None):
        self.media_type = media_type
        self.digest = digest
        self.size = size
        self.data = data
        self.path = path
        self.annotations = annotations or {}

    @classmethod
    def from_bytes(cls, media_type, data):
        return cls(media_type, sha256_digest(data), len(data), data=data)

    def descriptor(self):
        descriptor = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            descriptor["annotations"] = dict(self.annotations)
        return descriptor

    def open(self):
        if self.path is not None:
            return open(self.path, "rb")
        import io
        return io.BytesIO(self.data)


def rfc3339(epoch):
    import datetime
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(epoch))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_config(diff_id, created_epoch=0, labels=None):
    """The image config Config Sync's oci-sync (go-containerregistry) reads: one layer in ``rootfs.diff_ids``."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": rfc3339(created_epoch),
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if labels:
        config["config"]["Labels"] = dict(labels)
    return canonical_json(config)


def manifest(config_blob, layer_blobs, media_type, artifact_type=None, annotations=None):
    """Manifest bytes (canonical JSON) for a config and layers; ``artifact_type`` and annotations only for OCI."""
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_blob.descriptor(),
        "layers": [blob.descriptor() for blob in layer_blobs],
    }
    if artifact_type:
        document["artifactType"] = artifact_type
    if annotations:
        document["annotations"] = dict(annotations)
    return canonical_json(document)


class Package(object):
    """Everything a push needs: the manifest bytes and the blobs it names (config first, then the layer)."""

    def __init__(self, manifest_bytes, media_type, config, layer, entries, diff_id, artifact_type=None):
        self.manifest = manifest_bytes
        self.media_type = media_type
        self.digest = sha256_digest(manifest_bytes)
        self.config = config
        self.layer = layer
        self.blobs = [config, layer]
        self.entries = entries
        self.diff_id = diff_id
        self.artifact_type = artifact_type

    @property
    def files(self):
        return [entry.display_name for entry in self.entries]


def build_package(entries, layer_path, fmt="image", manifest_type="docker", mtime=0, compression_level=6,
                  annotations=None, labels=None, artifact_type=DEFAULT_ARTIFACT_TYPE, layer_title=None):
    """Write the layer to ``layer_path`` and return the Package.

    ``fmt`` image: a container image like ``crane append`` (Docker schema2 or OCI by ``manifest_type``).
    ``fmt`` artifact: like ``oras push`` of a .tar.gz: OCI manifest, ``artifactType``, the empty config, the layer
    titled ``layer_title``, and no ``created`` annotation so the digest does not change with time.
    """
    with open(layer_path, "wb") as out_stream:
        diff_id, layer_digest, layer_size, dummy_tar_size = write_layer(entries, out_stream, mtime, compression_level)
    if fmt == "artifact":
        layer = Blob(OCI_LAYER, layer_digest, layer_size, path=layer_path, annotations={TITLE_ANNOTATION: layer_title or "bundle.tar.gz"})
        config = Blob.from_bytes(OCI_EMPTY, EMPTY_JSON)
        body = manifest(config, [layer], OCI_MANIFEST, artifact_type=artifact_type, annotations=annotations)
        return Package(body, OCI_MANIFEST, config, layer, entries, diff_id, artifact_type)
    if manifest_type == "oci":
        media_type, config_type, layer_type = OCI_MANIFEST, OCI_CONFIG, OCI_LAYER
    else:
        media_type, config_type, layer_type = DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER
    layer = Blob(layer_type, layer_digest, layer_size, path=layer_path)
    config = Blob.from_bytes(config_type, image_config(diff_id, mtime, labels))
    body = manifest(config, [layer], media_type, annotations=annotations)
    return Package(body, media_type, config, layer, entries, diff_id)
