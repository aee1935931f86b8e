// Alerts page: acknowledge an alert (POST /api/v1/alerts/{id}/ack); the row shows the new state.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, flash } = Hotline;
  for (const button of document.querySelectorAll("button.ack")) {
    button.addEventListener("click", async () => {
      const id = button.dataset.alert;
      try {
        const result = await api("POST", `/api/v1/alerts/${encodeURIComponent(id)}/ack`);
        flash(result.acknowledged ? `Alert ${id} acknowledged; its escalation stops.` : `Alert ${id} was already settled.`);
        location.reload();
      } catch (error) {
        flash(`Ack refused: ${error.message}`, "error");
      }
    });
  }
});
