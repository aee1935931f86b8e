// Routing board: trunks and diversions with their load, live from /ws/monitor; admins change
// a target's capacity and state here (PATCH /api/v1/routing/trunks/{name}).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, api, flash, monitor } = Hotline;
  const table = document.getElementById("targets");
  const canEdit = table.dataset.canEdit === "yes";
  const rows = new Map();

  function editor(target) {
    const form = el("form", { class: "change", "data-target": target.name });
    const limit = el("input", { type: "number", name: "limit", min: 0, step: 1, size: 5, "aria-label": `capacity of ${target.name}`,
                                value: target.capacity === null ? "" : target.capacity });
    const state = el("select", { name: "state", "aria-label": `state of ${target.name}` },
      ...["up", "drain", "down"].map((s) => el("option", { value: s, selected: s === target.state }, s)));
    form.append(limit, state, el("button", { type: "submit" }, "Save"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { state: state.value };
      if (limit.value !== "") body.limit = Number(limit.value);
      try {
        await api("PATCH", `/api/v1/routing/trunks/${encodeURIComponent(target.name)}`, body);
        flash(`${target.name}: saved (capacity ${limit.value || "unlimited"}, ${state.value})`);
      } catch (error) {
        flash(`${target.name}: ${error.message}`, "error");
      }
    });
    return form;
  }

  function row(target) {
    const cells = {
      inUse: el("td", { class: "num in-use" }), meter: el("meter", { min: 0 }), capacity: el("td", { class: "num capacity" }),
      state: el("td", { class: "state" }), breaker: el("td", { class: "breaker" }),
    };
    const tr = el("tr", { "data-target": target.name }, el("td", {}, target.name), el("td", {}, target.kind),
      el("td", { class: "num" }, target.level ?? ""), cells.inUse, el("td", {}, cells.meter), cells.capacity,
      cells.state, cells.breaker);
    if (canEdit) tr.append(el("td", {}, target.kind === "hardphone" ? "" : editor(target)));
    table.tBodies[0].append(tr);
    return cells;
  }

  function showTargets(routing) {
    const error = document.getElementById("routing-error");
    error.hidden = !routing.error;
    error.textContent = routing.error || "";
    for (const target of routing.targets) {
      const cells = rows.get(target.name) || rows.set(target.name, row(target)).get(target.name);
      cells.inUse.textContent = target.in_use;
      cells.capacity.textContent = target.capacity === null ? "unlimited" : target.capacity;
      cells.capacity.title = `from ${target.capacity_source}`;
      cells.meter.max = target.capacity || Math.max(1, target.in_use);
      cells.meter.value = target.in_use;
      cells.state.textContent = target.state + (target.state_source === "live" ? " (live)" : "");
      cells.breaker.textContent = target.breaker + (target.reopen_in_s ? ` (${Math.ceil(target.reopen_in_s)} s)` : "");
      cells.state.closest("tr").classList.toggle("full", target.capacity !== null && target.in_use >= target.capacity);
    }
    const banner = document.getElementById("diversion");
    const d = routing.diversion;
    if (!d) return;
    banner.className = "banner " + (d.level === 0 ? "ok" : "warn");
    banner.textContent = d.level === 0 ? "Diversion level 0: the trunks have room."
      : d.level === null ? `Every trunk and diversion is full: calls go to the hard phones (${d.name}).`
      : `Diversion level ${d.level}: trunks are full, new calls go to ${d.name}.`;
  }

  function showFigures(figures) {
    const body = document.querySelector("#figures tbody");
    const lines = [];
    for (const [dimension, names] of Object.entries(figures)) {
      for (const [name, f] of Object.entries(names)) {
        lines.push(el("tr", { "data-figure": `${dimension}|${name}` }, el("td", {}, dimension), el("td", {}, name),
          ...["waiting", "in_use", "offered", "answered", "abandoned", "diverted"].map((k) => el("td", { class: `num ${k}` }, f[k]))));
      }
    }
    if (lines.length) body.replaceChildren(...lines);
  }

  monitor((message) => {
    showTargets(message.routing);
    showFigures(message.figures);
  }, (state) => {
    const pill = document.getElementById("ws-state");
    pill.textContent = state;
    pill.className = `pill ${state}`;
  });
});
