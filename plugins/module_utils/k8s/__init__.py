# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes transport, knowing nothing of Config Sync: ``kubeconfig`` (cluster access), ``client`` (requests),
``apply`` (idempotent server-side apply and delete), ``watch`` (waiting), ``errors``."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type
