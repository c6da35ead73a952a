# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
name: gke_fleet
short_description: GKE clusters or fleet memberships as inventory hosts
version_added: 0.1.0
description:
  - One host per GKE cluster of the given projects (GKE API C(clusters.list)), or per membership of their fleets
    (GKE Hub API C(memberships.list)).
  - Each host carries the variable the collection's Kubernetes modules and the C(configsync.oci.rollout) role use to
    reach it with the Google credential, V(gke_cluster) or V(fleet_membership), plus its location, labels and state,
    for groups (O(keyed_groups), O(groups)) and variables (O(compose)).
  - Only reads of the GKE, GKE Hub and Resource Manager APIs; the same credential options and C(GCP_*) environment
    variables as the collection's Google modules, so an AWX "Google Compute Engine" credential works as is.
  - The inventory file name must end in C(gke_fleet.yml) or C(gke_fleet.yaml).
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin.
    required: true
    type: str
    choices: [configsync.oci.gke_fleet]
  projects:
    description:
      - Google Cloud project IDs (or numbers) whose clusters, or whose fleet memberships, become hosts.
      - Falls back to E(GCP_PROJECT) for a single project.
    type: list
    elements: str
    env:
      - name: GCP_PROJECT
  source:
    description:
      - V(clusters) lists GKE clusters and sets V(gke_cluster) (the cluster's endpoint is reached directly).
      - V(memberships) lists fleet memberships and sets V(fleet_membership) (reached through the Connect Gateway, for
        private clusters and clusters outside Google Cloud).
    type: str
    choices: [clusters, memberships]
    default: clusters
  locations:
    description:
      - Locations to list, V(-) for all of them. For memberships the fleet's location is usually V(global).
    type: list
    elements: str
    default: ['-']
  labels:
    description: Only clusters or memberships carrying all of these labels (key and value).
    type: dict
    default: {}
  hostname:
    description:
      - V(name) names each host by the cluster or membership ID; V(qualified) by C(PROJECT-LOCATION-NAME), for fleets
        where one name appears in several projects or locations.
    type: str
    choices: [name, qualified]
    default: name
  auth_kind:
    description: How to obtain Google credentials, as in the collection's modules.
    type: str
    choices: [application, serviceaccount, accesstoken, machineaccount]
    env:
      - name: GCP_AUTH_KIND
  service_account_file:
    description: Path to a service-account JSON key, for O(auth_kind=serviceaccount).
    type: path
    env:
      - name: GCP_SERVICE_ACCOUNT_FILE
  service_account_contents:
    description: The service-account JSON key itself, for O(auth_kind=serviceaccount).
    type: str
    env:
      - name: GCP_SERVICE_ACCOUNT_CONTENTS
  service_account_email:
    description: The service account to use with O(auth_kind=machineaccount).
    type: str
    env:
      - name: GCP_SERVICE_ACCOUNT_EMAIL
  access_token:
    description: A Google OAuth2 access token, for O(auth_kind=accesstoken).
    type: str
    env:
      - name: GCP_ACCESS_TOKEN
  impersonate_service_account:
    description: Act as this service account through the IAM Credentials API.
    type: str
    env:
      - name: GCP_IMPERSONATE_SERVICE_ACCOUNT
notes:
  - Endpoints can be overridden as for the modules, with E(GCP_CONTAINER_ENDPOINT), E(GCP_GKEHUB_ENDPOINT),
    E(GCP_CLOUDRESOURCEMANAGER_ENDPOINT) or E(GCP_API_ENDPOINT).
  - For memberships, the project number the Connect Gateway needs is looked up once per project here and put into
    V(fleet_membership), so the modules need no lookup of their own.
requirements:
  - google-auth
  - urllib3
"""

EXAMPLES = r"""
# fleet.gke_fleet.yml: every cluster of two projects, grouped by location and by the "env" label.
plugin: configsync.oci.gke_fleet
projects: [platform-prod, platform-staging]
keyed_groups:
  - key: gke_location
    prefix: location
  - key: gke_labels.env
    prefix: env
compose:
  # One RootSync per cluster name when several clusters share an API server in a test fleet.
  rollout_sync_name: "'root-sync'"

# Another file, memberships.gke_fleet.yml: the fleet's memberships, reached through the Connect Gateway.
# plugin: configsync.oci.gke_fleet
# projects: [fleet-host]
# source: memberships
# locations: [global]
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: /tmp/gke_fleet_cache
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.configsync.oci.plugins.module_utils import cluster_access

GKE_CLUSTER_LINK = re.compile(r"^//container\.googleapis\.com/(projects/[^/]+/(?:locations|zones)/[^/]+/clusters/[^/]+)$")


def cluster_host_vars(cluster, project):
    """Host variables of one GKE cluster (clusters.list item)."""
    name = "projects/%s/locations/%s/clusters/%s" % (project, cluster["location"], cluster["name"])
    fleet = cluster.get("fleet") or {}
    return {
        "gke_cluster": name,
        "gke_project": project,
        "gke_location": cluster["location"],
        "gke_cluster_name": cluster["name"],
        "gke_labels": dict(cluster.get("resourceLabels") or {}),
        "gke_status": cluster.get("status"),
        "gke_version": cluster.get("currentMasterVersion"),
        "gke_fleet_membership": fleet.get("membership", "").replace("//gkehub.googleapis.com/", "") or None,
    }


def membership_host_vars(membership, project_number):
    """Host variables of one fleet membership (memberships.list item), named with the project number."""
    dummy_project, location, membership_id = cluster_access.parse_membership(membership["name"])
    link = ((membership.get("endpoint") or {}).get("gkeCluster") or {}).get("resourceLink") or ""
    match = GKE_CLUSTER_LINK.match(link)
    return {
        "fleet_membership": "projects/%s/locations/%s/memberships/%s" % (project_number, location, membership_id),
        "fleet_location": location,
        "fleet_membership_name": membership_id,
        "fleet_labels": dict(membership.get("labels") or {}),
        "fleet_state": (membership.get("state") or {}).get("code"),
        "fleet_gke_cluster": match.group(1).replace("/zones/", "/locations/") if match else None,
    }


def labels_match(labels, wanted):
    return all(str(labels.get(key)) == str(value) for key, value in (wanted or {}).items())


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "configsync.oci.gke_fleet"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(("gke_fleet.yml", "gke_fleet.yaml"))

    def fetch(self):
        """The hosts as {host name: host variables}; only reads."""
        names = ("auth_kind", "service_account_file", "service_account_contents", "service_account_email", "access_token",
                 "impersonate_service_account")
        options = {name: self.get_option(name) for name in names}
        reader = cluster_access.GoogleReader(options)
        projects = self.get_option("projects") or []
        if isinstance(projects, str):
            projects = [projects]
        if not projects:
            raise AnsibleError("gke_fleet: set projects (or GCP_PROJECT)")
        hosts = {}
        try:
            for project in projects:
                for location in self.get_option("locations"):
                    for host, variables in self.project_hosts(reader, project, location):
                        if host in hosts:
                            raise AnsibleError("gke_fleet: two hosts would be named %s (%s and %s); set hostname: qualified"
                                               % (host, hosts[host].get("gke_cluster") or hosts[host].get("fleet_membership"),
                                                  variables.get("gke_cluster") or variables.get("fleet_membership")))
                        hosts[host] = variables
        except cluster_access.ClusterLookupError as exc:
            raise AnsibleError("gke_fleet: %s" % exc)
        return hosts

    def project_hosts(self, reader, project, location):
        qualified = self.get_option("hostname") == "qualified"
        wanted = self.get_option("labels")
        if self.get_option("source") == "clusters":
            answer = reader.get("container", "/v1/projects/%s/locations/%s/clusters" % (project, location),
                                "the GKE clusters of project %s" % project)
            for cluster in answer.get("clusters") or []:
                variables = cluster_host_vars(cluster, project)
                if labels_match(variables["gke_labels"], wanted):
                    name = cluster["name"] if not qualified else "%s-%s-%s" % (project, cluster["location"], cluster["name"])
                    yield name, variables
            return
        number = project if project.isdigit() else reader.get(
            "cloudresourcemanager", "/v3/projects/" + project, "project %s" % project)["name"].split("/")[-1]
        token = None
        while True:
            path = "/v1/projects/%s/locations/%s/memberships" % (project, location) + ("?pageToken=" + token if token else "")
            answer = reader.get("gkehub", path, "the fleet memberships of project %s" % project)
            for membership in answer.get("resources") or []:
                variables = membership_host_vars(membership, number)
                if labels_match(variables["fleet_labels"], wanted):
                    short = variables["fleet_membership_name"]
                    yield (short if not qualified else "%s-%s-%s" % (project, variables["fleet_location"], short)), variables
            token = answer.get("nextPageToken")
            if not token:
                return

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        hosts = None
        if use_cache:
            try:
                hosts = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if hosts is None:
            hosts = self.fetch()
        if update_cache:
            self._cache[cache_key] = hosts
        strict = self.get_option("strict")
        for host, variables in sorted(hosts.items()):
            self.inventory.add_host(host)
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
