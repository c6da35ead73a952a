# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Google Cloud: ``auth`` (options, credentials, endpoints), ``clients`` (client options, the retry policy),
``errors``, and one file per API family (``artifact_registry``, ``iam``, ``service_usage``)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type
