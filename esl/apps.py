"""Each IVR command as FreeSWITCH dialplan applications on the controlled channel.

========================  =====================================================
IVR command               on FreeSWITCH
========================  =====================================================
``Answer``                ``answer``
``Play``                  ``set playback_terminators=<escape digits|none>`` (only
                          when it changes) + ``playback <sound>.wav`` per prompt;
                          a DTMF event with an escape digit during the prompt is
                          the barge-in key
``Collect``               ``play_and_get_digits 1 <max> 1 <first ms> <#|none>
                          <prompt|silence> silence_stream://250 hotline_input_<n>
                          [0-9*#A-D]+ <inter-digit ms>``: every argument but
                          ``transfer_on_fail``, which is left out. The digits are
                          only in ``variable_hotline_input_<n>`` of the completion;
                          unset means nothing valid was pressed. A prompt that
                          cannot be played makes FreeSWITCH skip the reading and
                          leave ``read_result`` unset: then the keys are read
                          again without the prompt (``silence``), as Asterisk's
                          GET DATA does with a missing file
``GetVariable``           ``api uuid_getvar <uuid> <name>`` (``_undef_``: unset);
                          a body with Content-Length, so any value is safe
``SetVariable``           ``set <name>=<value>`` (a value with a newline goes as a body)
``Route``                 the router (``decide``); dialling happens after the script
``Transfer``, ``Hangup``  nothing yet: done after the script (``esl.handover``)
========================  =====================================================

A fresh variable per ``Collect`` (``hotline_input_<n>``) because FreeSWITCH keeps
channel variables for the whole call: a reused name would hand back the previous
answer when the caller presses nothing. Sound names get ``.wav`` and no
directory: FreeSWITCH prefixes ``sound_prefix`` (set per language in the dialplan).
"""

from __future__ import annotations

from collections.abc import Callable

from esl.channel import Channel
from hotline.logs import get_logger
from ivr.commands import (
    Answer,
    Collect,
    Command,
    Digits,
    Done,
    GetVariable,
    Hangup,
    Play,
    Prompt,
    Result,
    Route,
    RouteDecision,
    SetVariable,
    Timeout,
    Transfer,
    Variable,
)

__all__ = ["ANY_KEY", "NO_PROMPT", "SILENCE", "Apps", "sound_file"]

log = get_logger(__name__)

SILENCE = "silence_stream://250"
NO_PROMPT = "silence"  # switch_ivr_read plays nothing for this name
ANY_KEY = "[0-9*#A-D]+"
"""Every DTMF key is valid input: whether it makes sense is the engine's decision, as on Asterisk."""


def sound_file(prompt: Prompt) -> str:
    return f"{prompt.sound}.wav"


def _read_arg(command: Collect, prompt: str, var: str) -> str:
    return (f"1 {command.max_digits} 1 {command.first_timeout_ms} {command.terminator or 'none'} {prompt} "
            f"{SILENCE} {var} {ANY_KEY} {command.inter_digit_timeout_ms}")


class Apps:
    """Performs IVR commands on one channel; ``route`` asks the router for a queue (see ``esl.handover``)."""

    def __init__(self, channel: Channel, route: Callable[[str, int], RouteDecision], *, prompt_timeout: float) -> None:
        self.ch = channel
        self.route = route
        self.prompt_timeout = prompt_timeout
        self.terminators: str | None = None  # playback_terminators as last set on the channel
        self.collects = 0

    def perform(self, command: Command) -> Result:
        """The result for ``command``; raises ``CallGone`` when the caller hangs up (the driver answers ``HungUp``)."""
        return _HANDLERS[type(command)](self, command)

    def _done(self) -> Done:
        return Done(elapsed_ms=self.ch.elapsed_ms())

    def _answer(self, command: Answer) -> Result:
        self.ch.execute("answer")
        return self._done()

    def _play(self, command: Play) -> Result:
        wanted = command.escape_digits or "none"
        for prompt in command.prompts:
            apps = []
            if self.terminators != wanted:
                apps.append(("set", f"playback_terminators={wanted}"))
                self.terminators = wanted
            apps.append(("playback", sound_file(prompt)))
            seen = len(self.ch.dtmf)
            self.ch.execute_all(apps, self.prompt_timeout)
            key = next((d for d in self.ch.dtmf[seen:] if d in command.escape_digits), "")
            if key:
                return Digits(key, elapsed_ms=self.ch.elapsed_ms())
        return self._done()

    def _collect(self, command: Collect) -> Result:
        self.collects += 1
        var = f"hotline_input_{self.collects}"
        prompt = sound_file(command.prompt) if command.prompt else NO_PROMPT
        waits = (command.first_timeout_ms + command.max_digits * command.inter_digit_timeout_ms) / 1000
        done = self.ch.execute("play_and_get_digits", _read_arg(command, prompt, var), self.prompt_timeout + waits)
        if done.variable("read_result") is None and prompt != NO_PROMPT:
            log.warning("prompt not played; reading the keys without it", prompt=prompt)
            done = self.ch.execute("play_and_get_digits", _read_arg(command, NO_PROMPT, var), waits + 5)
        value = done.variable(var)
        return Digits(value, elapsed_ms=self.ch.elapsed_ms()) if value else Timeout(elapsed_ms=self.ch.elapsed_ms())

    def _get(self, command: GetVariable) -> Result:
        value = self.ch.api(f"uuid_getvar {self.ch.uuid} {command.name}")
        unset = value in ("_undef_", "") or value.startswith("-ERR")
        return Variable(None if unset else value, elapsed_ms=self.ch.elapsed_ms())

    def _set(self, command: SetVariable) -> Result:
        self.ch.execute("set", f"{command.name}={command.value}")
        return self._done()

    def _route(self, command: Route) -> Result:
        return self.route(command.queue, self.ch.elapsed_ms())

    def _later(self, command: Transfer | Hangup) -> Result:
        return self._done()


_HANDLERS: dict[type, Callable[[Apps, object], Result]] = {
    Answer: Apps._answer, Play: Apps._play, Collect: Apps._collect, GetVariable: Apps._get,
    SetVariable: Apps._set, Route: Apps._route, Transfer: Apps._later, Hangup: Apps._later,
}
