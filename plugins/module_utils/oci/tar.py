# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deterministic tar of the packaged entries: every header carries the same mtime, uid/gid 0, empty owner names
and normalised modes, so the same tree gives the same bytes on any machine.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import stat

from ansible_collections.configsync.oci.plugins.module_utils.oci.walk import PackagingError


_COPY_BUFFER = 1024 * 1024


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
