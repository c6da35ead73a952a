# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config Sync's rules as pure functions: ``names``, ``objects``, ``versions``, ``status`` (nomos's rules) and
``wait`` (verdicts)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type
