// Ticket page: each button or small form posts one action to /api/v1/tasks/{id}/actions/{action}. The page is
// not reloaded, so the message saying what happened stays on screen. On success the part of the page an action
// can change (#ticket: state, current node, fields, tasks with their buttons, timeline) is read again from the
// server and swapped in: the server renders it by the same rules as on load (which buttons this person gets,
// the call's steps in the timeline), so they live in one place. On refusal the API's reason shows and the
// button can be used again. Buttons and forms are found by delegation, as they are replaced after each action.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, flash, localize } = Hotline;

  /** Swap #ticket for the server's current rendering of it. */
  async function refresh() {
    const resp = await fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
    if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
    const fresh = new DOMParser().parseFromString(await resp.text(), "text/html").getElementById("ticket");
    if (!fresh) throw new Error("the page came back without the ticket; are you still logged in?");
    document.getElementById("ticket").replaceWith(document.adoptNode(fresh));
    localize(fresh);
  }

  /** What the API said the action did, in one sentence. */
  function done(action, { task, ticket }) {
    const result = ticket.result ? `, result ${ticket.result}` : "";
    return `Task ${task.id}: ${action} done, the task is ${task.state}; ` +
      `ticket #${ticket.id} is ${ticket.state} at ${ticket.current_node}${result}.`;
  }

  /** Post `action` on `task`; `control` (the button pressed) stays disabled unless the API refuses. */
  async function act(control, task, action, body = {}) {
    control.disabled = true;
    let result;
    try {
      result = await api("POST", `/api/v1/tasks/${encodeURIComponent(task)}/actions/${action}`, body);
    } catch (error) {
      control.disabled = false;
      flash(`${action} refused: ${error.message}`, "error");
      return;
    }
    const said = done(action, result);
    try {
      await refresh();
      flash(said);
    } catch (error) {
      flash(`${said} Reload to see the new state (${error.message}).`);
    }
  }

  const typed = (input) => {
    const raw = input.value.trim();
    if (raw === "") return null;
    switch (input.dataset.type) {
      case "integer": case "number": return Number(raw);
      case "boolean": return ["1", "true", "yes"].includes(raw.toLowerCase());
      default: return raw;
    }
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("#ticket button.act");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "cancel" && !confirm("Cancel this ticket? Its open tasks are cancelled too.")) return;
    act(button, button.dataset.task, action);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("#ticket form");
    if (!form) return;
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    if (form.classList.contains("handle")) {
      const fields = {};
      for (const input of form.querySelectorAll("input[name^='field:']")) {
        const value = typed(input);
        if (value !== null) fields[input.name.slice(6)] = value;
      }
      act(submit, form.dataset.task, "handle", { outcome: form.elements.outcome.value, fields });
    } else if (form.classList.contains("transfer")) {
      act(submit, form.dataset.task, "transfer", { to: form.elements.to.value.trim() });
    } else if (form.classList.contains("ticket-actions")) {
      const text = form.elements.text.value.trim();
      if (text) act(submit, form.dataset.task, "comment", { text });
    }
  });
});
