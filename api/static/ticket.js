// Ticket page: each button or small form posts one action to /api/v1/tasks/{id}/actions/{action};
// on success the page reloads (the server renders the new state), on refusal the API's reason shows.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, flash } = Hotline;

  async function act(task, action, body = {}) {
    try {
      await api("POST", `/api/v1/tasks/${encodeURIComponent(task)}/actions/${action}`, body);
      flash(`${action}: done`);
      location.reload();
    } catch (error) {
      flash(`${action} refused: ${error.message}`, "error");
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

  for (const button of document.querySelectorAll("button.act")) {
    button.addEventListener("click", () => {
      const action = button.dataset.action;
      if (action === "cancel" && !confirm("Cancel this ticket? Its open tasks are cancelled too.")) return;
      act(button.dataset.task, action);
    });
  }

  for (const form of document.querySelectorAll("form.handle")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const fields = {};
      for (const input of form.querySelectorAll("input[name^='field:']")) {
        const value = typed(input);
        if (value !== null) fields[input.name.slice(6)] = value;
      }
      act(form.dataset.task, "handle", { outcome: form.elements.outcome.value, fields });
    });
  }

  for (const form of document.querySelectorAll("form.transfer")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(form.dataset.task, "transfer", { to: form.elements.to.value.trim() });
    });
  }

  const extra = document.querySelector("form.ticket-actions");
  if (extra) {
    extra.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = extra.elements.text.value.trim();
      if (text) act(extra.dataset.task, "comment", { text });
    });
  }
});
