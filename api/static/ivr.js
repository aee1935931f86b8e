// IVR map: draws the menu's graph from the data the server embedded, with callers and hang-ups per node.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("ivr-graph");
  if (!box || !box.dataset.graph) return;
  const report = JSON.parse(box.dataset.graph);
  if (!report) return;
  Graph.draw(box, report, {
    lines: (n) => [n.id, `${n.type}${n.detail ? " · " + n.detail : ""}`,
                   `${n.callers} callers · ${n.hangups} hung up`],
    nodeClass: (n) => `type-${n.type}` + (n.hangups ? " dropoff" : ""),
    bar: (n) => (n.callers ? n.hangups / n.callers : null),
    edgeLabel: (e) => [e.labels.filter(Boolean).join(", "), e.calls ? `×${e.calls}` : ""].filter(Boolean).join(" "),
    edgeWeight: (e) => e.calls,
  });
});
