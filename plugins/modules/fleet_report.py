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
  - Clusters come worst first (ERROR, UNREACHABLE, PENDING, SYNCED), then by name.
  - For a sync object that is not SYNCED, the report names the commit that is live (C(lastSyncedCommit)) and when it
    synced, and how long before the report that was; an ERROR before any good sync says that nothing synced.
  - With O(dest), writes C(BASENAME.md), a self-contained C(BASENAME.html) and C(BASENAME.json) on the controller.
    The HTML page has one fleet table with each cluster's state coloured and each source shortened to
    C(host/.../name@sha256:abcd1234) (the full reference on hover), links to Config Sync's documentation of each KNV
    error code, the rollout timeline (O(timeline)) drawn as inline SVG, and details and errors per cluster; it has no
    script and loads nothing. The Markdown shows names such as C(<root>) literally.
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
  timeline:
    description:
      - The rollout's timeline, one entry per cluster, as the C(configsync.oci.rollout) role records it (C(rollout_timeline)).
      - Each entry has C(cluster), C(wave) (1 for the first), C(started_at) (when its wave began, RFC 3339),
        C(ended_at) (when its wait ended, or null) and C(state) (V(SYNCED), or the state the wait gave up in).
      - Drawn as one bar per cluster from its wave's start to C(ended_at), grouped by wave; entries without a
        readable C(started_at) are left out. No timeline when empty.
    type: list
    elements: dict
    default: []
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
timeline:
  description:
    - The timeline drawn (C(started_at) of the rollout and its C(entries), each with C(start), C(end) and
      C(duration) in seconds from the rollout's start), ordered by wave, start and cluster.
    - Null without O(timeline).
  returned: always
  type: dict
"""
