// Flow map: the flow's graph with open and overdue tickets per node, refreshed every few seconds.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("flow-graph");
  if (!box) return;
  const { el, api } = Hotline;
  const key = box.dataset.key;
  const stamp = document.getElementById("flow-updated");
  const tbody = document.querySelector("#flow-nodes tbody");

  const sla = (s) => (s === null || s === undefined ? "—" : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 60)} min`);

  async function refresh() {
    try {
      const graph = await api("GET", `/api/v1/flows/${encodeURIComponent(key)}/graph`);
      const start = (graph.nodes.find((n) => n.type === "create") || graph.nodes[0] || {}).key;
      Graph.draw(box, {
        start,
        nodes: graph.nodes.map((n) => ({ ...n, id: n.key })),
        edges: graph.edges.map((e) => ({ ...e, label: e.when || "" })),
      }, {
        lines: (n) => [n.name, `${n.key} · ${n.type}`, `${n.open} open · ${n.overdue} overdue`],
        nodeClass: (n) => `type-${n.type}` + (n.overdue ? " overdue" : n.open ? " busy" : ""),
        bar: (n) => (n.open ? n.overdue / n.open : null),
        edgeLabel: (e) => e.labels.filter(Boolean).join(" | "),
        edgeWeight: () => null,
      });
      tbody.replaceChildren(...graph.nodes.map((n) => el("tr", { "data-node": n.key },
        el("td", {}, n.name), el("td", {}, n.type), el("td", { class: "num open" }, n.open),
        el("td", { class: "num overdue" }, n.overdue), el("td", {}, sla(n.sla_s)))));
      stamp.textContent = `version ${graph.version} · updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      stamp.textContent = `not updated: ${error.message}`;
    }
  }

  refresh();
  setInterval(refresh, 3000);
});
