# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OCI packaging and the distribution-spec client behind the ``oci_push`` module.

``reference`` parses image references; ``walk`` (files and symlink rules), ``tar``, ``gzip``, ``manifest`` and
``package`` build the deterministic layer, config and manifest (no network); ``constants`` holds the defaults the
option spec and the registry client share; ``auth`` finds credentials and answers
registry challenges, ``registry`` talks the distribution protocol and ``push`` ties them together into one
idempotent push.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type
