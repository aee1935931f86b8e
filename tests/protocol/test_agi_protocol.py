"""The sans-IO AGI protocol against every recorded Asterisk 22 session, three ways each."""

from __future__ import annotations

import pytest

from agi.protocol import (
    MAX_LINE_BYTES,
    NEED_DATA,
    TRANSITIONS,
    AgiConnection,
    AgiLocalError,
    AgiRemoteError,
    Command,
    ConnectionClosed,
    Environment,
    HangupNotice,
    Reply,
    State,
    UsageReply,
    describe_transitions,
    quote_arg,
)
from tests.protocol.agi_replay import MODES, events, replay
from tests.sim.transcripts import agi_recordings

RECORDINGS = {rec.name: rec for rec in agi_recordings()}
ENV = b"agi_network: yes\nagi_network_script: demo/ivr/main\nagi_uniqueid: 1.1\nagi_accountcode: \n\n"


def _ready() -> AgiConnection:
    conn = AgiConnection()
    conn.receive_data(ENV)
    assert isinstance(conn.next_event(), Environment)
    return conn


def _replies_by_command(name: str) -> list[tuple[str, object]]:
    """(command sent, first event after it) for a recording replayed whole."""
    out, last = [], None
    for entry in replay(RECORDINGS[name]).log:
        if entry[0] == "sent":
            last = entry[1].decode(errors="replace").rstrip("\n")
        elif entry[0] == "event" and last is not None:
            out.append((last, entry[1]))
            last = None
    return out


# -- every transcript, whole / byte by byte / with trailing bytes ----------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_transcript_replays_without_protocol_error(name: str, mode: str) -> None:
    result = replay(RECORDINGS[name], mode)
    assert not [e for e in result.log if e[0] == "remote-error"]
    assert events(result.log) == events(replay(RECORDINGS[name], "whole").log)
    assert result.conn.state is not State.ERROR


def test_trailing_partial_line_at_eof_is_a_remote_error() -> None:
    conn = _ready()
    conn.send("NOOP")
    conn.receive_data(b"200 result=0\n20")
    assert conn.next_event() == Reply(200, "0")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(AgiRemoteError, match="middle of a reply line"):
        conn.next_event()


# -- fastagi-basic ---------------------------------------------------------------------------------


def test_basic_replies_parse_like_res_agi_writes_them() -> None:
    replies = dict(_replies_by_command("fastagi-basic#1"))
    assert replies["GET VARIABLE CALLERID(num)"] == Reply(200, "1", "5551234")
    assert replies["GET VARIABLE NOSUCHVAR"] == Reply(200, "0")
    assert replies["GET FULL VARIABLE ${NOSUCHVAR}"] == Reply(200, "1", "")
    assert replies["GET VARIABLE HOTLINE_NOTE"] == Reply(200, "1", "two words")
    assert replies['STREAM FILE no-such-file "0123456789*#"'] == Reply(200, "-1", endpos=0)
    assert replies["GET DATA enter-amount 5000 6"] == Reply(200, "500")
    assert replies["GET DATA enter-amount 2000 6"] == Reply(200, "", "timeout")
    assert replies["WAIT FOR DIGIT 3000"].number == ord("7")
    assert replies['GET OPTION hello "12" 2000'] == Reply(200, "49", endpos=5120)
    assert replies["EXEC NoSuchApplication foo"].number == -2
    assert replies["CHANNEL STATUS"].number == 6


def test_stream_file_with_dtmf_gives_ascii_code_and_endpos() -> None:
    played = [r for c, r in _replies_by_command("fastagi-basic#1") if c.startswith("STREAM FILE hello")]
    assert played == [Reply(200, "0", endpos=18023), Reply(200, "50", endpos=7520)]
    assert chr(played[1].number) == "2"


def test_half_close_gets_hangup_then_eof() -> None:
    log = replay(RECORDINGS["fastagi-basic#1"]).log
    assert [e[1] for e in log[-2:]] == [HangupNotice(), ConnectionClosed()]


def test_environment_keeps_order_empty_values_and_arguments() -> None:
    env = events(replay(RECORDINGS["fastagi-basic#2"]).log)[0]
    assert env.args == ("first", "second arg", "", "last")
    assert env.network_script == "args?x=1&y=two"
    assert (env.script_path, env.query) == ("args", {"x": "1", "y": "two"})
    assert env.get("accountcode") == "" and env.get("enhanced") == "0.0"
    assert list(env.variables)[:3] == ["network", "network_script", "request"]


def test_spawned_environment_has_no_network_script() -> None:
    env = events(replay(RECORDINGS["agi-spawned#1"]).log)[0]
    assert env.network_script == "" and "network" not in env.variables
    assert env.args == ("normal", "beta gamma") and env.callerid == "5551234"


# -- fastagi-errors --------------------------------------------------------------------------------


def test_multiline_520_is_one_usage_reply_read_to_its_end_line() -> None:
    replies = dict(_replies_by_command("fastagi-errors#1"))
    usage = replies["GET DATA"]
    assert isinstance(usage, UsageReply)
    assert usage.lines[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert usage.lines[-1] == "520 End of proper usage."
    assert len(replies["STREAM FILE"].lines) > 5  # the long XML usage text, several segments
    assert replies["NOOP after-long-line"] == Reply(200, "0")  # still in step afterwards


def test_lines_res_agi_mishandles_are_refused_before_the_wire() -> None:
    refused = [e[1] for e in replay(RECORDINGS["fastagi-errors#1"]).log if e[0] == "refused"]
    assert [r[:12] for r in refused] == [b"\n", b"   \n", b"NOOP\r\n", b"GET VARIABLE", b"NOOP xxxxxxx", b"NOOP \x00 nul\n"]


def test_values_round_trip_quotes_parens_and_raw_bytes() -> None:
    replies = dict(_replies_by_command("fastagi-errors#1"))
    assert replies["GET VARIABLE QVAR"].data == 'a "quoted" word'
    assert replies["GET VARIABLE QVAR3"].data == "(parens) and spaces"
    latin1 = replies["GET VARIABLE LATIN1VAR"].data
    assert latin1.encode("utf-8", "surrogateescape") == b"caf\xe9\xff"
    assert replies["GET VARIABLE UTF8VAR"].data == "h\u00e9llo \u2713"
    assert isinstance(replies["SET VARIABLE QVAR2 'single quoted'"], UsageReply)


def test_unsolicited_reply_is_a_sticky_remote_error() -> None:
    conn = _ready()
    conn.receive_data(b"200 result=0\n")
    with pytest.raises(AgiRemoteError, match="no command in flight"):
        conn.next_event()
    assert conn.state is State.ERROR
    with pytest.raises(AgiRemoteError):
        conn.next_event()
    with pytest.raises(AgiLocalError):
        conn.send("NOOP")


def test_one_line_520_without_xml_docs_is_a_usage_reply() -> None:
    conn = _ready()
    conn.send("GET DATA")
    conn.receive_data(b"520 Invalid command syntax.  Proper usage not available.\n")
    assert conn.next_event() == UsageReply(("520 Invalid command syntax.  Proper usage not available.",))
    assert conn.state is State.IDLE


def test_usage_text_arriving_later_is_awaited_not_split() -> None:
    conn = _ready()
    conn.send("WAIT FOR DIGIT")
    conn.receive_data(b"520-Invalid command syntax.  Proper usage follows:\n")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"Waits up to timeout.\n520 End")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b" of proper usage.\n200 res")
    assert conn.next_event().lines[1] == "Waits up to timeout."
    assert conn.next_event() is NEED_DATA


# -- fastagi-hangup / status -----------------------------------------------------------------------


def test_hangup_during_wait_for_digit_is_minus_one_then_notice() -> None:
    log = replay(RECORDINGS["fastagi-hangup#1"]).log
    evs = events(log)
    i = evs.index(Reply(200, "-1"))
    assert evs[i + 1] == HangupNotice()
    assert Reply(511, text="Command Not Permitted on a dead channel or intercept routine") in evs


def test_hangup_notice_between_replies_is_an_event() -> None:
    conn = _ready()
    conn.receive_data(b"HANGUP\n")
    assert conn.next_event() == HangupNotice()
    assert conn.state is State.HUNG_UP and conn.hung_up
    conn.send("GET VARIABLE CALLERID(num)")
    conn.receive_data(b"200 result=1 (5551234)\n")
    assert conn.next_event() == Reply(200, "1", "5551234")
    assert conn.state is State.HUNG_UP


def test_hangup_notice_while_a_command_is_in_flight_keeps_the_reply_pending() -> None:
    conn = _ready()
    conn.send("SET VARIABLE X 1")
    conn.receive_data(b"HANGUP\n200 result=1\n")
    assert conn.next_event() == HangupNotice()
    assert conn.state is State.HUNG_UP_AWAITING_REPLY
    assert conn.next_event() == Reply(200, "1")
    assert conn.state is State.HUNG_UP


def test_511_without_hangup_line_means_dead_channel() -> None:
    """AGISIGHUP=no (and spawned AGI): no HANGUP line, only -1 then 511."""
    replay_ = replay(RECORDINGS["fastagi-hangup#3"])
    assert HangupNotice() not in events(replay_.log)
    assert replay_.conn.state is State.HUNG_UP


@pytest.mark.parametrize("name", ["fastagi-hangup#4", "fastagi-hangup#5"])
def test_agiexitonhangup_double_notice_then_eof(name: str) -> None:
    log = replay(RECORDINGS[name]).log
    assert [e[1] for e in log if e[0] == "event"][-3:] == [HangupNotice(), HangupNotice(), ConnectionClosed()]
    assert log[-1] == ("refused", b"NOOP\n", "hangup")


def test_hangup_command_is_answered_then_notified() -> None:
    evs = events(replay(RECORDINGS["fastagi-status#5"]).log)
    assert evs[2:4] == [Reply(200, "1"), HangupNotice()]


def test_eof_before_reply_on_live_channel_is_a_hang_up() -> None:
    """AGIEXITONHANGUP=yes with AGISIGHUP=no: Asterisk closes at hang-up without a ``HANGUP`` line first."""
    conn = _ready()
    conn.send(Command("STREAM FILE", ("hello", "")))
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is State.CLOSED and conn.hung_up and conn.pending is None
    with pytest.raises(AgiLocalError, match="socket is closed") as info:
        conn.send("NOOP")
    assert info.value.hint == "hangup"


# -- malformed and hostile peers -------------------------------------------------------------------


def test_half_sent_header_then_eof_fails_instead_of_spinning() -> None:
    conn = AgiConnection()
    conn.receive_data(b"agi_network: yes\nagi_netw")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(AgiRemoteError, match="middle of the AGI environment"):
        conn.next_event()


def test_endless_header_hits_the_size_cap() -> None:
    conn = AgiConnection(max_env_bytes=1024)
    for _ in range(100):
        conn.receive_data(b"agi_x: " + b"y" * 50 + b"\n")
        try:
            assert conn.next_event() is NEED_DATA
        except AgiRemoteError as exc:
            assert "exceeds 1024 bytes" in str(exc)
            break
    else:
        pytest.fail("no size error")


def test_endless_usage_text_hits_the_size_cap() -> None:
    conn = AgiConnection(max_reply_bytes=512)
    conn.receive_data(ENV)
    conn.next_event()
    conn.send("GET DATA")
    conn.receive_data(b"520-Invalid command syntax.  Proper usage follows:\n" + b"text\n" * 200)
    with pytest.raises(AgiRemoteError, match="exceeds 512"):
        conn.next_event()


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\n\n", b"\n", b"agi_ok: 1\nnot a header\n\n"],
)
def test_garbage_instead_of_environment_is_remote_error(garbage: bytes) -> None:
    conn = AgiConnection()
    conn.receive_data(garbage)
    with pytest.raises(AgiRemoteError):
        conn.next_event()


@pytest.mark.parametrize("line", [b"garbage\n", b"999 result=0\n", b"200result=0\n", b"\x00\n"])
def test_garbage_reply_line_is_remote_error(line: bytes) -> None:
    conn = _ready()
    conn.send("NOOP")
    conn.receive_data(line)
    with pytest.raises(AgiRemoteError):
        conn.next_event()


# -- sending ---------------------------------------------------------------------------------------


def test_one_command_at_a_time_and_not_before_the_environment() -> None:
    conn = AgiConnection()
    with pytest.raises(AgiLocalError):
        conn.send("ANSWER")
    conn = _ready()
    conn.send("ANSWER")
    with pytest.raises(AgiLocalError, match="AWAITING_REPLY"):
        conn.send("NOOP")


def test_long_or_broken_lines_are_local_errors_and_leave_the_state_alone() -> None:
    conn = _ready()
    for bad in ["NOOP \x00", "NOOP\r", "A\nB", "", "   ", "NOOP " + "x" * MAX_LINE_BYTES]:
        with pytest.raises(AgiLocalError):
            conn.send(bad)
    assert conn.state is State.IDLE
    assert len(conn.send("SET VARIABLE LONGVAR " + "y" * 5000)) == 5022


def _res_agi_parse_args(line: str) -> list[str]:
    """res_agi.c parse_args, transcribed: whitespace splits, "" groups, \\ escapes one character."""
    args, cur, quoted, escaped, started = [], [], False, False, False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and not started:
                started = True
            continue
        if ch in " \t" and not quoted and not escaped:
            if started:
                args.append("".join(cur))
                cur, started = [], False
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        cur.append(ch)
        started, escaped = True, False
    if started:
        args.append("".join(cur))
    return args


@pytest.mark.parametrize("arg", ["hello", "", "two words", 'a "quoted" word', "back\\slash", "tab\there", "(x)", "caf\u00e9"])
def test_quoted_arguments_parse_back_the_way_res_agi_splits(arg: str) -> None:
    line = str(Command("SET VARIABLE", ("X", arg)))
    assert _res_agi_parse_args(line) == ["SET", "VARIABLE", "X", arg]


def test_quoting_matches_recorded_lines() -> None:
    assert str(Command("STREAM FILE", ("hello", "0123456789*#"))) == 'STREAM FILE hello 0123456789*#'
    assert str(Command("STREAM FILE", ("hello", ""))) == 'STREAM FILE hello ""'
    assert quote_arg('a "quoted" word') == '"a \\"quoted\\" word"'


# -- replies res_agi writes that the transcripts don't show ----------------------------------------


def test_gosub_trying_is_provisional() -> None:
    conn = _ready()
    conn.send("GOSUB ctx s 1")
    conn.receive_data(b"100 result=0 Trying...\n200 result=0 Gosub complete\n")
    assert conn.next_event() == Reply(100, "0", text="Trying...")
    assert conn.state is State.AWAITING_REPLY
    assert conn.next_event() == Reply(200, "0", text="Gosub complete")
    assert conn.state is State.IDLE and conn.pending is None


def test_record_file_data_before_endpos() -> None:
    conn = _ready()
    conn.send("RECORD FILE x wav # 1000")
    conn.receive_data(b"200 result=0 (timeout) endpos=8000\n")
    assert conn.next_event() == Reply(200, "0", "timeout", 8000)


def test_states_table_prints_and_reaches_every_state() -> None:
    table = describe_transitions()
    assert "IDLE                   --HangupNotice--> HUNG_UP" in table
    assert {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values()) == set(State) - {State.ERROR}
