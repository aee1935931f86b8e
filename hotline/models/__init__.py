"""SQL models owned by the wiring room; other rooms register theirs on the same ``Base``.

Importing this package imports every model module Alembic must see.
"""

from hotline.models.audit import AdminAudit
from hotline.models.base import Base, TenantScoped, UtcDateTime, utcnow
from hotline.models.calls import Call
from hotline.models.tokens import ApiToken

__all__ = ["AdminAudit", "ApiToken", "Base", "Call", "TenantScoped", "UtcDateTime", "utcnow"]
