# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Defaults shared by ``oci_push``'s option spec and the registry client, in a module that imports nothing: the option
spec is read at start-up, while the registry client (and requests, about 50 ms of imports) loads on a thread during
packaging.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

# Bytes per PATCH of a chunked blob upload (blobs up to this size go in one request).
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
