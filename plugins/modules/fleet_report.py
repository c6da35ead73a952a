#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_report
short_description: The fleet's Config Sync status as C(nomos status --contexts) prints it, and as Markdown, HTML and JSON files
version_added: 0.1.0
description:
  - Takes the M(configsync.oci.config_sync_status) results of many clusters (one inventory host each) and prints, per
    cluster, each sync object with its source, status, short commit, errors (each line of each error on its own line,
    KNV codes included) and its managed resources (NAMESPACE, NAME, STATUS, SOURCEHASH), then one line for the
    fleet (how many clusters are SYNCED, PENDING, ERROR and unreachable).
  - A cluster is SYNCED when all its sync objects are, ERROR when one is ERROR or STALLED, PENDING otherwise (also
    without any sync object), and UNREACHABLE when its status could not be read (the result has no C(syncs)).
  - With O(dest), writes C(BASENAME.md), a self-contained C(BASENAME.html) (one fleet table with each cluster's
    state coloured, details and errors per cluster, no external assets) and C(BASENAME.json) on the controller.
  - Runs on the controller (an action plugin), once for the play (C(run_once)).
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.attributes
attributes:
  check_mode:
    support: full
    details: Prints the report; writes no file.
  diff_mode:
    support: none
options:
  clusters:
    description: Cluster name to its registered M(configsync.oci.config_sync_status) result (failed results included).
    type: dict
    required: true
  dest:
    description: Directory for the report files; no files when unset.
    type: path
  basename:
    description: File name of the report files, without extension.
    type: str
    default: config-sync-status
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [markdown, html, json]
    default: [markdown, html, json]
  title:
    description: Title of the Markdown and HTML report.
    type: str
    default: Config Sync fleet status
  print_report:
    description: Print the report in the play's output.
    type: bool
    default: true
seealso:
  - module: configsync.oci.config_sync_status
"""

EXAMPLES = r"""
- name: Read each cluster
  configsync.oci.config_sync_status:
    kubeconfig: "{{ cluster_kubeconfig }}"
  register: config_sync
  failed_when: false

- name: Report the fleet
  configsync.oci.fleet_report:
    clusters: "{{ dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, 'config_sync'))) }}"
    dest: "{{ playbook_dir }}/reports"
  run_once: true
  register: fleet

- name: Gate on it
  ansible.builtin.assert:
    that: fleet.clusters[inventory_hostname].state == 'SYNCED'
"""

RETURN = r"""
summary:
  description: Clusters per state, and the total.
  returned: always
  type: dict
  sample: {"SYNCED": 1, "PENDING": 1, "ERROR": 1, "UNREACHABLE": 1, "total": 4}
summary_line:
  description: The fleet summary as printed.
  returned: always
  type: str
  sample: "Fleet: 4 clusters: 1 SYNCED, 1 PENDING, 1 ERROR, 1 unreachable"
clusters:
  description: Cluster name to its report entry (C(state), C(errors), C(syncs) with C(short_commit) and C(resources)).
  returned: always
  type: dict
files:
  description: Format to the path of the file written.
  returned: always
  type: dict
  sample: {"markdown": "reports/config-sync-status.md", "html": "reports/config-sync-status.html"}
generated_at:
  description: When the report was made (UTC, RFC 3339).
  returned: always
  type: str
"""
