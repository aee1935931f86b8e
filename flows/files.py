"""Where flow and people configuration lives on disk, and reading it.

Layout: ``<conf>/people.yaml`` (tenant → org) and
``<conf>/flows/<tenant>/<flow key>.yaml``. The tenant of a flow file is its
directory's name and its key is the file name, so a file can be deployed on
its own (``hotline flows deploy conf/flows/demo/fee_reduction.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flows.analysis import Analysis, analyse_flow
from flows.definition import FlowDef
from flows.directory import Directory, TenantPeople, parse_people_file
from hotline.yamlconf import ConfigError, ConfigErrors, load_yaml, parse_yaml

__all__ = ["FLOWS_DIR", "PEOPLE_FILE", "flow_files", "read_flow", "read_flow_text", "read_people"]

FLOWS_DIR = "flows"
PEOPLE_FILE = "people.yaml"


def flow_files(root: Path) -> dict[str, list[Path]]:
    """Tenant → its flow files under ``root`` (the ``flows`` dir, a tenant dir, or one file)."""
    if root.is_file():
        return {root.parent.name: [root]}
    if any(root.glob("*.yaml")) or any(root.glob("*.yml")):
        return {root.name: sorted([*root.glob("*.yaml"), *root.glob("*.yml")])}
    out: dict[str, list[Path]] = {}
    for tenant_dir in sorted(p for p in root.glob("*") if p.is_dir() and not p.name.startswith(".")):
        files = sorted([*tenant_dir.glob("*.yaml"), *tenant_dir.glob("*.yml")])
        if files:
            out[tenant_dir.name] = files
    return out


def read_people(path: Path, regions: Mapping[str, str]) -> tuple[dict[str, TenantPeople], list[ConfigError]]:
    """Every tenant's org in ``people.yaml``, phones read in ``regions`` (tenant → its phone region, as
    ``router.check.tenant_regions`` gives them); a missing file is no people, not an error."""
    if not path.is_file():
        return {}, []
    try:
        data = load_yaml(path)
    except ConfigErrors as exc:
        return {}, exc.errors
    return parse_people_file(data, str(path), regions)


def read_flow_text(text: str, file: str, directory: Directory | None, expected_key: str | None) -> Analysis:
    """Parse and analyse a flow definition given as YAML text (a file or an API body)."""
    try:
        data = parse_yaml(text, file)
    except ConfigErrors as exc:
        return Analysis(None, exc.errors, [])
    return analyse_flow(data, file, directory, expected_key)


def read_flow(path: Path, directory: Directory | None) -> tuple[FlowDef | None, str, list[ConfigError]]:
    """A flow file's definition, its text (what gets stored) and its errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, "", [ConfigError(str(path), 0, f"cannot read file: {exc}")]
    found = read_flow_text(text, str(path), directory, path.stem)
    return found.flow, text, found.errors
