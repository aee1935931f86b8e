// Alerts page: acknowledge an alert (POST /api/v1/alerts/{id}/ack). An acknowledgement settles the whole
// escalation, so afterwards every row of that task shows its state as the server now has it and loses its
// Ack button. The page is not reloaded: the message saying what happened (acknowledged, or already settled
// by someone else) must stay on screen.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, flash } = Hotline;

  /** Rows of `task` show their alerts' current states; none can be acked any more (the escalation is settled). */
  async function settled(task) {
    const { alerts } = await api("GET", `/api/v1/alerts?task=${encodeURIComponent(task)}`);
    for (const alert of alerts) {
      const row = document.querySelector(`#alerts tr[data-alert="${alert.id}"]`);
      if (!row) continue;
      const pill = el("span", { class: `pill state-${alert.state}` }, alert.state);
      const cell = row.querySelector("td.state");
      cell.replaceChildren(pill);
      if (alert.last_error) cell.append(" ", el("span", { class: "error", title: alert.last_error }, "!"));
    }
    for (const button of document.querySelectorAll(`#alerts tr[data-task="${CSS.escape(task)}"] button.ack`)) {
      button.remove();
    }
  }

  async function ack(button) {
    const id = button.dataset.alert;
    const task = button.closest("tr").dataset.task;
    button.disabled = true;
    let result;
    try {
      result = await api("POST", `/api/v1/alerts/${encodeURIComponent(id)}/ack`);
    } catch (error) {
      button.disabled = false;
      flash(`Ack refused: ${error.message}`, "error");
      return;
    }
    const said = result.acknowledged
      ? `Alert ${id} acknowledged: no further alerts will be sent for task ${task}.`
      : `Alert ${id} was already settled (acknowledged or stopped before you clicked); nothing changed.`;
    try {
      await settled(task);
      flash(said);
    } catch (error) {
      flash(`${said} Reload to see the new states (${error.message}).`);
    }
  }

  for (const button of document.querySelectorAll("button.ack")) {
    button.addEventListener("click", () => ack(button));
  }
});
