"""``hotline check`` for the flow room: people.yaml and every flow file, all errors at once."""

from __future__ import annotations

from pathlib import Path

from flows.directory import Directory
from flows.files import FLOWS_DIR, PEOPLE_FILE, flow_files, read_flow, read_people
from hotline.yamlconf import ConfigError, line_of, load_yaml
from router.check import tenant_regions

__all__ = ["check_flows"]


def check_flows(conf_dir: Path) -> list[ConfigError]:
    """Errors in ``conf_dir/people.yaml`` and ``conf_dir/flows/<tenant>/*.yaml``, each with file and line.

    Flows are checked against their tenant's people (a tenant people.yaml leaves out has none, so a flow
    naming people is an error here); two flows of one tenant claiming the same intent template is an
    error too.
    """
    orgs, errors = read_people(conf_dir / PEOPLE_FILE, tenant_regions(conf_dir))
    flows_dir = conf_dir / FLOWS_DIR
    if not flows_dir.is_dir():
        return errors
    for tenant, files in flow_files(flows_dir).items():
        org = orgs.get(tenant)
        directory = Directory.from_conf(org) if org is not None else Directory()
        owners: dict[str, Path] = {}
        for path in files:
            flow, _, found = read_flow(path, directory)
            errors += found
            if flow is None:
                continue
            for template in flow.template_names:
                if template in owners:
                    errors.append(
                        ConfigError(
                            str(path),
                            line_of(load_yaml(path), ("templates",)),
                            f"template {template!r} already opens tickets on {owners[template].name}",
                            "each intent template belongs to one flow per tenant",
                        )
                    )
                owners.setdefault(template, path)
    return errors
