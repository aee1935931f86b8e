"""``hotline tokens``: create, list and revoke API tokens."""

from __future__ import annotations

import click
from rich.table import Table

from hotline.cli_support import Failure, console, in_transaction, run_async, settings_or_fail
from hotline.tokens import Role, create_token, list_tokens, revoke_token


@click.group()
def tokens() -> None:
    """API tokens (only a hash is stored; a token is shown once)."""


@tokens.command("create")
@click.option("--tenant", required=True, help="Tenant the token belongs to.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="What the token may do.")
@click.option("--name", default="", help="Who or what uses it (shown in audits).")
def create(tenant: str, role: str, name: str) -> None:
    """Create a token and print it once."""
    settings = settings_or_fail()

    token, row = run_async(
        lambda: in_transaction(settings, lambda s: create_token(s, tenant, Role(role), name or f"{role}@{tenant}"))
    )
    console.print(f"token #{row.id} for tenant [bold]{tenant}[/], role [bold]{role}[/] (shown once, store it now):")
    click.echo(token)


@tokens.command("list")
@click.option("--tenant", default=None, help="Only this tenant's tokens.")
def list_(tenant: str | None) -> None:
    """List tokens (never the tokens themselves, only their first characters)."""
    settings = settings_or_fail()
    rows = run_async(lambda: in_transaction(settings, lambda s: list_tokens(s, tenant)))
    table = Table("id", "tenant", "role", "name", "prefix", "created", "state")
    for r in rows:
        state = "revoked" if r.revoked_at else "active"
        table.add_row(str(r.id), r.tenant, r.role, r.name, r.prefix + "…", f"{r.created_at:%Y-%m-%d %H:%M}", state)
    console.print(table)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token by its id (see `hotline tokens list`)."""
    settings = settings_or_fail()
    if not run_async(lambda: in_transaction(settings, lambda s: revoke_token(s, token_id))):
        raise Failure(f"no active token #{token_id}; see `hotline tokens list`")
    console.print(f"token #{token_id} revoked")
