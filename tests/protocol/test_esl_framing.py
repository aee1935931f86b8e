"""The sans-IO event-socket framing against every recorded FreeSWITCH 1.10.12 session, three ways each."""

from __future__ import annotations

import pytest

from esl import commands
from esl.framing import (
    NEED_DATA,
    TRANSITIONS,
    ApiResponse,
    AuthRequest,
    ChannelData,
    Command,
    CommandReply,
    ConnectionClosed,
    DisconnectNotice,
    EslConnection,
    EslLocalError,
    EslRemoteError,
    Event,
    Role,
    State,
    UnparsedFrame,
    describe_transitions,
)
from tests.esl.replay import MODES, esl_recordings, events, replay
from tests.sim.freeswitch import parse_command

RECORDINGS = {rec.name: rec for rec in esl_recordings()}


def _events(name: str) -> list[object]:
    return events(replay(RECORDINGS[name]).log)


def _named(evs: list[object], name: str) -> list[Event]:
    return [e for e in evs if isinstance(e, Event) and e.name == name]


def _ready(role: Role = Role.OUTBOUND) -> EslConnection:
    conn = EslConnection(role)
    if role is Role.OUTBOUND:
        conn.send(commands.connect())
        conn.receive_data(b"Unique-ID: u1\nContent-Type: command/reply\nReply-Text: %2BOK%0A\n\n")
    else:
        conn.receive_data(b"Content-Type: auth/request\n\n")
        assert conn.next_event() == AuthRequest()
        conn.send(commands.auth("ClueCon"))
        conn.receive_data(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
    assert isinstance(conn.next_event(), ChannelData | CommandReply)
    assert conn.state is State.READY
    return conn


# -- every transcript, whole / byte by byte / with trailing bytes ----------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_transcript_replays_the_same_in_every_mode(name: str, mode: str) -> None:
    result = replay(RECORDINGS[name], mode)
    assert not [e for e in result.log if e[0] == "remote-error"]
    assert events(result.log) == events(replay(RECORDINGS[name], "whole").log)
    assert result.conn.state is not State.ERROR
    assert result.conn.pending == ()  # every command sent was answered exactly once, in order


def test_recorded_commands_encode_to_the_recorded_bytes() -> None:
    """What the recorder wrote (LF, one space after the colon) is exactly what ``Command.encode`` writes."""
    for name in ("esl-outbound-basic#1", "esl-outbound-basic#3", "esl-inbound#3"):
        wire = bytearray(RECORDINGS[name].wire("H"))
        while (parsed := parse_command(wire)) is not None:
            command, used = parsed
            assert command.encode() == bytes(wire[:used])
            del wire[:used]


# -- what the frames mean --------------------------------------------------------------------------


def test_connect_reply_is_the_channel_data_url_decoded() -> None:
    data = _events("esl-outbound-basic#1")[0]
    assert isinstance(data, ChannelData)
    assert data.unique_id == "bd1d59a5-e392-4b39-8ccb-76a73b5c167c"
    assert data.reply_text == "+OK" and data.async_mode and data.full_control
    assert data.variable("hotline_tenant") == "demo" and data.variable("hotline_menu") == "main"
    assert data.headers["Caller-Caller-ID-Name"] == "Hotline Test"
    assert data.variable("current_application_data") == "127.0.0.1:8085 async full"


def test_ordinary_reply_text_is_not_decoded() -> None:
    replies = [e for e in _events("esl-outbound-basic#1") if isinstance(e, CommandReply)]
    assert [(r.command, r.text) for r in replies[:5]] == [
        ("myevents", "+OK Events Enabled"), ("myevents", "-ERR aready enabled."), ("linger", "+OK will linger"),
        ("getvar", "demo"), ("getvar", "-ERR command not found"),
    ]


def test_event_plain_values_are_decoded_and_an_inner_body_is_kept() -> None:
    evs = _events("esl-outbound-basic#1")
    job = _named(evs, "BACKGROUND_JOB")[0]
    assert job.get("Job-Command") == "version" and job.format == "plain"
    assert job.body == "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
    assert job.get("Event-Date-Local") == "2026-11-28 02:52:33"
    bgapi = next(e for e in evs if isinstance(e, CommandReply) and e.command == "bgapi")
    assert bgapi.job_uuid == job.get("Job-UUID")


def test_play_and_get_digits_puts_the_digits_only_in_the_variable() -> None:
    completes = [e for e in _named(_events("esl-outbound-basic#1"), "CHANNEL_EXECUTE_COMPLETE")
                 if e.get("Application") == "play_and_get_digits"]
    choice, amount, nothing = completes
    assert choice.get("Application-Response") == "_none_" and choice.variable("hotline_choice") == "2"
    assert amount.variable("hotline_amount") == "500" and amount.variable("read_terminator_used") == "#"
    assert nothing.variable("read_result") == "failure" and nothing.variable("hotline_nothing") is None


def test_event_json_has_no_trailing_newline_and_the_next_frame_follows_at_once() -> None:
    evs = _events("esl-outbound-basic#2")
    dtmf = _named(evs, "DTMF")
    assert [e.get("DTMF-Digit") for e in dtmf] == ["5", "0", "0", "#"] and dtmf[0].format == "json"
    job = _named(evs, "BACKGROUND_JOB")[0]
    assert job.body.startswith("UP 0 years") and "Content-Length" in job.headers


def test_event_xml_headers_are_decoded() -> None:
    xml = [e for e in _events("esl-outbound-basic#2") if isinstance(e, Event) and e.format == "xml"]
    assert xml and xml[0].name == "CHANNEL_EXECUTE" and xml[0].get("Application-Data") == "hotline_route=billing"
    assert xml[0].variable("read_terminator_used") == "#"


def test_api_response_body_may_lack_a_final_newline() -> None:
    apis = [e for e in _events("esl-inbound#3") if isinstance(e, ApiResponse)]
    assert ApiResponse("api", "vm") in apis
    assert any(a.body == '{"row_count": 0}\n' for a in apis)
    hangup = [e for e in _events("esl-outbound-hangup#2") if isinstance(e, ApiResponse)]
    assert hangup == [ApiResponse("api", "false")]


def test_linger_notice_has_no_body_and_the_later_disconnect_notice_has_one() -> None:
    result = replay(RECORDINGS["esl-outbound-hangup#2"])
    notices = [e for e in events(result.log) if isinstance(e, DisconnectNotice)]
    linger, bye = notices
    assert linger.linger and linger.linger_time == -1 and linger.body == ""
    assert bye.disposition == "disconnect" and bye.body.startswith("Disconnected, goodbye.\n") and len(bye.body) == 67
    assert result.conn.state is State.CLOSED


def test_hangup_sequence_without_linger_ends_with_a_disconnect_notice_then_eof() -> None:
    evs = _events("esl-outbound-hangup#1")
    names = [e.name if isinstance(e, Event) else type(e).__name__ for e in evs]
    assert names[-9:] == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
                          "CHANNEL_STATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE", "DisconnectNotice",
                          "ConnectionClosed"]
    assert evs[-8].get("Application-Response") == "PLAYBACK ERROR" and evs[-6].get("Application") == "socket"
    assert evs[-2].disposition == "disconnect"


def test_wrong_password_then_a_notice_without_disposition() -> None:
    result = replay(RECORDINGS["esl-inbound#1"])
    evs = events(result.log)
    assert evs[:2] == [AuthRequest(), CommandReply("auth", "-ERR invalid", evs[1].headers)]
    assert isinstance(evs[2], DisconnectNotice) and evs[2].disposition == "" and not evs[2].linger
    assert result.conn.state is State.CLOSED


def test_shutdown_notice_carries_its_own_text() -> None:
    notice = next(e for e in _events("esl-inbound#5") if isinstance(e, DisconnectNotice))
    assert notice.body == "The system is being shut down.\n"


def test_raw_multiline_getvar_value_gives_unparsed_frames_and_parsing_goes_on() -> None:
    evs = _events("esl-outbound-errors#1")
    unparsed = [e for e in evs if isinstance(e, UnparsedFrame)]
    assert [u.raw for u in unparsed] == [b"getvar scen\n\n", b"get\n\n"]
    after = evs[evs.index(unparsed[-1]) + 1:]
    assert any(isinstance(e, CommandReply) and e.text == "-ERR command parse error." for e in after)


# -- malformed input -------------------------------------------------------------------------------


@pytest.mark.parametrize("wire, message", [
    (b"Content-Length: 12x\nContent-Type: text/event-plain\n\n", "not a byte count"),
    (b"Content-Length: -1\nContent-Type: text/event-plain\n\n", "not a byte count"),
    (b"Content-Length: 99999999999\nContent-Type: text/event-plain\n\n", "over the"),
])
def test_bad_content_length_is_a_remote_error_and_sticks(wire: bytes, message: str) -> None:
    conn = _ready()
    conn.receive_data(wire)
    with pytest.raises(EslRemoteError, match=message):
        conn.next_event()
    assert conn.state is State.ERROR
    with pytest.raises(EslRemoteError, match="already failed"):
        conn.next_event()


def test_a_header_block_that_never_ends_is_cut_at_the_limit() -> None:
    conn = EslConnection(Role.OUTBOUND, max_header=1024)
    conn.send(commands.connect())
    conn.receive_data(b"X-Junk: " + b"a" * 1100)
    with pytest.raises(EslRemoteError, match="longer than 1024"):
        conn.next_event()


@pytest.mark.parametrize("wire, where", [
    (b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent-Name: CHANNEL_EXEC", "body"),
    (b"Content-Length: 500\nContent-Type: text/ev", "header block"),
])
def test_eof_inside_a_frame_is_a_remote_error(wire: bytes, where: str) -> None:
    conn = _ready()
    conn.receive_data(wire)
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(EslRemoteError, match=f"middle of a {where}"):
        conn.next_event()


def test_eof_between_frames_is_reported_once() -> None:
    conn = _ready()
    conn.receive_data(b"\n")
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() is NEED_DATA and conn.state is State.CLOSED


def test_a_reply_to_no_command_is_a_remote_error() -> None:
    conn = _ready()
    conn.receive_data(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    with pytest.raises(EslRemoteError, match="answers no command"):
        conn.next_event()


def test_frames_without_content_type_or_with_bad_bodies_are_unparsed_and_skipped() -> None:
    conn = _ready()
    conn.receive_data(b"Reply-Text: hello\nweird line\n\n"
                      b"Content-Length: 5\nContent-Type: text/event-json\n\n{oops"
                      b"Content-Length: 2\nContent-Type: text/event-json\n\n[]"
                      b"Content-Length: 3\nContent-Type: text/whatever\n\nabc"
                      b"Content-Length: 21\nContent-Type: text/event-json\n\n{\"Event-Name\":\"DTMF\"}")
    reasons = [conn.next_event() for _ in range(4)]
    assert all(isinstance(r, UnparsedFrame) for r in reasons)
    assert [r.reason.split(": ")[0] for r in reasons] == [
        "header line without ':'", "text/event-json body does not parse", "text/event-json body does not parse",
        "unknown Content-Type 'text/whatever'"]
    assert conn.next_event() == Event("DTMF", {"Event-Name": "DTMF"}, "", "json")


# -- sending ---------------------------------------------------------------------------------------


def test_execute_sends_event_lock_and_its_own_event_uuid() -> None:
    conn = _ready()
    wire = conn.send(commands.execute("playback", "hotline/welcome.wav", event_uuid="e-1"))
    assert wire == (b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                    b"execute-app-arg: hotline/welcome.wav\nevent-lock: true\nEvent-UUID: e-1\n\n")
    assert conn.pending == ("sendmsg",)


def test_an_argument_with_a_newline_goes_as_a_body() -> None:
    wire = commands.execute("set", "bot_slots={\n}", event_uuid="e-2").encode()
    assert wire.endswith(b"content-type: text/plain\nevent-lock: true\nEvent-UUID: e-2\ncontent-length: 13\n\n"
                         b"bot_slots={\n}")
    parsed, used = parse_command(wire)
    assert used == len(wire) and parsed.body == "bot_slots={\n}"


def test_newline_in_a_header_or_an_empty_command_is_refused() -> None:
    with pytest.raises(EslLocalError, match="newline"):
        Command("sendmsg", (("hangup-cause", "A\nB"),)).encode()
    with pytest.raises(EslLocalError, match="empty"):
        Command("  ").encode()


def test_outbound_needs_connect_first_and_only_once() -> None:
    conn = EslConnection(Role.OUTBOUND)
    with pytest.raises(EslLocalError, match="send connect before"):
        conn.send(commands.myevents())
    conn.send(commands.connect())
    with pytest.raises(EslLocalError, match="already sent"):
        conn.send(commands.connect())


def test_nothing_can_be_sent_once_freeswitch_said_goodbye() -> None:
    conn = _ready()
    conn.send(commands.exit_())
    conn.receive_data(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
    assert conn.next_event().text == "+OK bye" and conn.state is State.CLOSING
    with pytest.raises(EslLocalError, match="closing"):
        conn.send(commands.api("status"))


def test_transition_table_prints_one_line_per_transition() -> None:
    text = describe_transitions()
    assert len(text.splitlines()) == len(TRANSITIONS)
    assert "outbound: ready --linger notice--> lingering" in text
    assert "inbound: authenticating --+OK accepted--> ready" in text
