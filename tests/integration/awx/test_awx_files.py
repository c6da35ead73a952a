"""The AWX objects shipped in extras/awx/ are what AWX accepts, and name the role's real variables.

The rules are AWX's (awx/main/fields.py CredentialTypeInputField / CredentialTypeInjectorField, awx/main/constants.py
ENV_BLOCKLIST, awx/api/views survey validation); the jobs that use these files run in test_runner_jobs.py."""
import yaml

from awx_job import CREDENTIAL_TYPE_FILE, SURVEY_FILE
from harness.paths import REPO

AWX_ENV_BLOCKLIST = {"VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID",
                     "INVENTORY_UPDATE_ID", "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES"}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def role_options():
    specs = yaml.safe_load((REPO / "roles" / "rollout" / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


def test_fleet_credential_type_is_one_awx_accepts():
    credential_type = yaml.safe_load(CREDENTIAL_TYPE_FILE.read_text())
    assert credential_type["kind"] in ("cloud", "net"), "custom credential types are cloud or net"
    fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}
    assert set(credential_type["inputs"]["required"]) <= set(fields)
    assert fields["kubeconfig"]["secret"] is True and fields["kubeconfig"]["multiline"] is True
    env = credential_type["injectors"]["env"]
    assert env == {"K8S_AUTH_KUBECONFIG": "{{ tower.filename.kubeconfig }}"}
    assert not [name for name in env if name.startswith("ANSIBLE_") or name in AWX_ENV_BLOCKLIST]
    assert set(credential_type["injectors"]["file"]) == {"template.kubeconfig"}


def test_survey_asks_for_role_variables():
    survey = yaml.safe_load(SURVEY_FILE.read_text())
    options = role_options()
    variables = [question["variable"] for question in survey["spec"]]
    assert len(variables) == len(set(variables))
    assert set(variables) <= set(options), set(variables) - set(options)
    required = {name for name, option in options.items() if option.get("required")}
    assert required <= set(variables), "the survey asks for every required role variable"
    for question in survey["spec"]:
        assert question["type"] in SURVEY_TYPES
        option = options[question["variable"]]
        if question["type"] == "multiplechoice" and "choices" in option:
            assert set(question["choices"]) == set(option["choices"]), question["variable"]
        if question.get("default") not in (None, "") and "default" in option and option["type"] != "raw":
            assert str(question["default"]).lower() == str(option["default"]).lower(), question["variable"]
