"""The routing configuration (``conf/routing.yaml``) as pydantic models, and the router's states.

Strategy: the YAML names every *route target* a call can be sent to: trunks
(carry the call out to a carrier), diversions (self-service channels that take
the overflow when every trunk of a queue is full) and one hard-phone group
(the last resort). All three share one name space per tenant, because the
chosen name becomes the ``HOTLINE_ROUTE`` channel variable and the key of the
target's live state in Redis. Per-field rules live here; rules that relate
fields to each other (a queue naming an unknown trunk, duplicate names) live in
``router/check.py`` so they can be reported with the line of the offending item.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hotline.phones import Region

__all__ = [
    "DEFAULT_CHAT_MESSAGE",
    "DEFAULT_RESEND_AFTER_S",
    "LINK_PLACEHOLDER",
    "NUMBER_PLACEHOLDER",
    "Breaker",
    "BreakerPolicy",
    "DegradeMode",
    "DegradePolicy",
    "Diversion",
    "DiversionKind",
    "HardPhones",
    "Level",
    "Pbx",
    "Queue",
    "QueueTrunk",
    "RouteKind",
    "RoutingConfig",
    "Source",
    "TenantRouting",
    "Trunk",
    "TrunkState",
]

#: The placeholder a trunk's dial template must contain; the queue's number replaces it.
NUMBER_PLACEHOLDER = "${number}"
#: The placeholder a chat diversion's SMS ``message`` must contain; the chat link replaces it.
LINK_PLACEHOLDER = "{link}"
DEFAULT_CHAT_MESSAGE = "Chat with us online: {link}"
DEFAULT_RESEND_AFTER_S = 600.0
#: Longest chat ``message`` and link: with the call id added to the link the SMS stays within one
#: alert SMS (480 characters), so the link is never cut short.
CHAT_TEXT_MAX = 200

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)]


class Pbx(StrEnum):
    """Which PBX's dial syntax a template is written in (and which PBX owns a call id)."""

    ASTERISK = "asterisk"
    FREESWITCH = "freeswitch"


class TrunkState(StrEnum):
    """Operator state of a route target: ``drain`` takes no new calls but lets live ones finish."""

    UP = "up"
    DOWN = "down"
    DRAIN = "drain"


class Source(StrEnum):
    """Where the limit or state in force came from: the deployed config or a live operator change."""

    CONFIG = "config"
    LIVE = "live"


class Breaker(StrEnum):
    """Circuit-breaker state of a trunk (stored in Redis as this string)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class DegradeMode(StrEnum):
    """What a node does with a trunk when Redis cannot be asked (degradation level 3)."""

    OPEN = "open"
    CLOSED = "closed"


class RouteKind(StrEnum):
    """What kind of target a decision names; same values as ``ivr.commands.RouteKind``."""

    TRUNK = "trunk"
    DIVERSION = "diversion"
    HARDPHONE = "hardphone"


class DiversionKind(StrEnum):
    """The self-service channels; ``target`` means a different thing for each (see ``Diversion``)."""

    MENU = "menu"
    BOT = "bot"
    CHAT = "chat"


class Level(IntEnum):
    """How degraded a decision is: 0 normal, 1 a trunk's breaker is open, 2 over threshold, 3 hard phones/local."""

    NORMAL = 0
    RECOVERY = 1
    THRESHOLD = 2
    HARDPHONE = 3


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DegradePolicy(_Model):
    """Fail-open lets a node place calls on the trunk from its own count, up to ``local_share`` of capacity.

    The share is per node: with N nodes, ``local_share`` ≤ 1/N keeps the sum of
    the nodes' local counts under the carrier's limit while Redis is away.
    """

    mode: DegradeMode = DegradeMode.CLOSED
    local_share: float = Field(0.5, gt=0, le=1)

    def local_limit(self, capacity: int) -> int:
        """Calls one node may place on the trunk without Redis (0 when fail-closed)."""
        return int(capacity * self.local_share) if self.mode is DegradeMode.OPEN else 0


class BreakerPolicy(_Model):
    """``failures`` dial failures within ``window_s`` open the breaker; a probe call is let through after ``cooldown_s``."""

    failures: int = Field(5, ge=1)
    window_s: float = Field(30, gt=0)
    cooldown_s: float = Field(30, gt=0)


class Trunk(_Model):
    """A carrier trunk; ``capacity`` is the most calls it may carry at once (the threshold)."""

    name: Name
    pbx: Pbx
    dial: str
    capacity: int = Field(ge=0)
    priority: int = Field(1, ge=0)
    weight: int = Field(1, ge=1)
    state: TrunkState = TrunkState.UP
    degrade: DegradePolicy = DegradePolicy()
    breaker: BreakerPolicy = BreakerPolicy()

    @field_validator("dial")
    @classmethod
    def _has_number(cls, value: str) -> str:
        if NUMBER_PLACEHOLDER not in value:
            raise ValueError(
                f"dial template must contain {NUMBER_PLACEHOLDER}, e.g. PJSIP/{NUMBER_PLACEHOLDER}@carrier"
            )
        return value

    def dial_string(self, number: str) -> str:
        """The template with the number filled in; other ``${...}`` PBX variables are left alone."""
        return self.dial.replace(NUMBER_PLACEHOLDER, number)


class QueueTrunk(_Model):
    """A trunk as one queue uses it; priority and weight default to the trunk's own."""

    trunk: Name
    priority: int | None = Field(None, ge=0)
    weight: int | None = Field(None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"trunk": value} if isinstance(value, str) else value


class Queue(_Model):
    """A service queue (``billing``, ``general``...): the number dialled and the trunks that carry it.

    Trunks are tried by priority (lower first); among equal priorities the one
    with the least load per unit of weight wins, so weights set proportions.
    """

    name: Name
    number: str = Field(min_length=1)
    trunks: list[QueueTrunk] = Field(min_length=1)


class Diversion(_Model):
    """A self-service channel that takes calls when every trunk of the queue is full.

    Diversions are tried by ``level`` (lower first), so load spills from one to
    the next as each fills: ``capacity`` is how many calls it may hold at once
    (IVR ports, bot sessions); ``None`` means it never fills (an SMS link).
    ``target`` is the IVR menu id for ``menu``, the bot's dial string for
    ``bot``, and the chat link sent by SMS for ``chat``. Only ``chat`` takes
    ``message`` (the SMS, with ``{link}``) and ``resend_after_s`` (a caller
    diverted again within that time gets no second SMS); unset, they are the
    defaults above, so a dumped config validates again. The SMS is sent off
    the call path by ``hotline.chat_links``, also to a caller who asks for it
    in an IVR menu (a ``chat_link`` node naming this diversion).
    """

    name: Name
    kind: DiversionKind
    target: str = Field(min_length=1)
    level: int = Field(ge=1)
    capacity: int | None = Field(None, ge=0)
    state: TrunkState = TrunkState.UP
    message: str | None = Field(None, min_length=1, max_length=CHAT_TEXT_MAX)
    resend_after_s: float | None = Field(None, gt=0)

    @field_validator("target")
    @classmethod
    def _chat_link(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") is DiversionKind.CHAT and (
            not value.startswith(("https://", "http://")) or len(value) > CHAT_TEXT_MAX
        ):
            raise ValueError(f"a chat diversion's target is the link sent by SMS: an http(s) URL of at most "
                             f"{CHAT_TEXT_MAX} characters")
        return value

    @field_validator("message", "resend_after_s")
    @classmethod
    def _chat_only(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if value is not None and kind is not None and kind is not DiversionKind.CHAT:
            raise ValueError(f"only a chat diversion sends an SMS; remove {info.field_name} from this {kind} diversion")
        return value

    @field_validator("message")
    @classmethod
    def _has_link(cls, value: str | None) -> str | None:
        if value is not None and LINK_PLACEHOLDER not in value:
            raise ValueError(f"message must contain {LINK_PLACEHOLDER}, where the chat link goes, "
                             f"e.g. '{DEFAULT_CHAT_MESSAGE}'")
        return value

    def sms_text(self, link: str) -> str:
        """The SMS a caller diverted to this chat gets, with ``link`` (the target, maybe tagged) in place."""
        return (self.message or DEFAULT_CHAT_MESSAGE).replace(LINK_PLACEHOLDER, link)

    @property
    def sms_quiet_s(self) -> float:
        """Seconds after a chat SMS in which the same number gets no other."""
        return self.resend_after_s or DEFAULT_RESEND_AFTER_S


class HardPhones(_Model):
    """Desk phones that answer whatever nothing else can take; never full, never refused."""

    name: Name
    pbx: Pbx
    dial: str = Field(min_length=1)


class TenantRouting(_Model):
    """One tenant's routing; names are unique across trunks, diversions and the hard-phone group.

    ``region`` is the country the tenant's trunks are in, so the one its PBX
    delivers national caller ids of and its people.yaml phones may be written
    in (``hotline.phones``); unset, only numbers in +<country code> form are
    texted or called. It lives here, with the trunks, because the trunks'
    country is what decides how a caller id reads.
    """

    region: Region | None = None
    trunks: list[Trunk] = Field(min_length=1)
    queues: list[Queue] = Field(min_length=1)
    diversions: list[Diversion] = []
    hardphones: HardPhones

    def trunk(self, name: str) -> Trunk | None:
        return next((t for t in self.trunks if t.name == name), None)

    def queue(self, name: str) -> Queue | None:
        return next((q for q in self.queues if q.name == name), None)

    def diversion(self, name: str) -> Diversion | None:
        return next((d for d in self.diversions if d.name == name), None)

    def chat(self, name: str) -> Diversion | None:
        """The ``chat`` diversion called ``name``, whose link a caller can get; None if there is none."""
        diversion = self.diversion(name)
        return diversion if diversion is not None and diversion.kind is DiversionKind.CHAT else None

    def diversions_by_level(self) -> list[Diversion]:
        return sorted(self.diversions, key=lambda d: d.level)

    def target_names(self) -> list[str]:
        """Every route target, trunks first, then diversions by level, then the hard-phone group."""
        return (
            [t.name for t in self.trunks]
            + [d.name for d in self.diversions_by_level()]
            + [self.hardphones.name]
        )


class RoutingConfig(_Model):
    """The whole file: process-wide timing, then one ``TenantRouting`` per tenant.

    ``timeout_ms`` bounds every decision (Redis slower than that means the node
    decides locally); ``lease_ttl_s`` is how long a lease outlives its last
    renewal, so a lost hang-up frees its slot after at most that long.
    ``redis_retry_ms`` is how long a node keeps deciding locally after Redis
    failed, before it tries Redis again.
    """

    timeout_ms: int = Field(200, ge=1, le=10_000)
    lease_ttl_s: float = Field(90, gt=0)
    redis_retry_ms: int = Field(1000, ge=0)
    tenants: dict[Name, TenantRouting] = Field(min_length=1)

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000
