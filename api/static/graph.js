// Draws a directed graph as SVG, for the IVR map and the flow map.
// Layout: nodes go in layers by their distance from the start node (breadth first), each layer
// ordered by the average position of its parents; forward edges run down, edges back up or
// sideways bend round the right. Simple and stable, good for the tens of nodes a menu or flow has.
"use strict";

const Graph = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 176, H = 66, GAP_X = 44, GAP_Y = 74, PAD = 24, BEND = 70, CHARS = 24;

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const clip = (text) => (text.length > CHARS ? text.slice(0, CHARS - 1) + "…" : text);

  function layers(nodes, edges, start) {
    const out = new Map(nodes.map((n) => [n.id, []]));
    for (const e of edges) if (out.has(e.from) && out.has(e.to)) out.get(e.from).push(e.to);
    const depth = new Map();
    const order = [];
    const queue = out.has(start) ? [start] : [];
    if (queue.length) depth.set(start, 0);
    while (queue.length) {
      const id = queue.shift();
      order.push(id);
      for (const next of out.get(id)) {
        if (!depth.has(next)) { depth.set(next, depth.get(id) + 1); queue.push(next); }
      }
    }
    const last = depth.size ? Math.max(...depth.values()) + 1 : 0;
    for (const n of nodes) if (!depth.has(n.id)) { depth.set(n.id, last); order.push(n.id); }
    const rows = [];
    for (const id of order) (rows[depth.get(id)] ||= []).push(id);
    const placed = new Map();
    return rows.filter(Boolean).map((row) => {
      const score = (id) => {
        const parents = edges.filter((e) => e.to === id && placed.has(e.from)).map((e) => placed.get(e.from));
        return parents.length ? parents.reduce((a, b) => a + b, 0) / parents.length : Infinity;
      };
      const sorted = row.map((id, i) => [score(id), i, id]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
      sorted.forEach((id, i) => placed.set(id, i));
      return sorted;
    });
  }

  function merge(edges) {
    const byPair = new Map();
    for (const e of edges) {
      const key = `${e.from}\u0000${e.to}`;
      const seen = byPair.get(key);
      if (seen) seen.labels.push(e.label);
      else byPair.set(key, { ...e, labels: [e.label] });
    }
    return [...byPair.values()];
  }

  /**
   * graph: {nodes: [{id, ...}], edges: [{from, to, label, ...}], start}
   * look: {lines(node) -> [title, ...more], nodeClass(node), bar(node) -> 0..1 | null,
   *        edgeLabel(edge) -> text, edgeWeight(edge) -> number | null}
   */
  function draw(container, graph, look) {
    const rows = layers(graph.nodes, graph.edges, graph.start);
    const widest = Math.max(1, ...rows.map((r) => r.length));
    const width = PAD * 2 + widest * W + (widest - 1) * GAP_X + BEND;
    const height = PAD * 2 + rows.length * H + Math.max(0, rows.length - 1) * GAP_Y;
    const pos = new Map();
    rows.forEach((row, r) => {
      const offset = ((widest - row.length) * (W + GAP_X)) / 2;
      row.forEach((id, i) => pos.set(id, { x: PAD + offset + i * (W + GAP_X), y: PAD + r * (H + GAP_Y), row: r }));
    });
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "graph-svg" });
    const defs = svg("defs");
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
                                   orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
    defs.append(marker);
    root.append(defs);

    const edges = merge(graph.edges);
    const heaviest = Math.max(1, ...edges.map((e) => look.edgeWeight(e) || 0));
    for (const edge of edges) {
      const a = pos.get(edge.from), b = pos.get(edge.to);
      if (!a || !b) continue;
      let d, lx, ly;
      if (b.row > a.row) {
        const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
        d = `M ${x1} ${y1} C ${x1} ${y1 + GAP_Y / 2}, ${x2} ${y2 - GAP_Y / 2}, ${x2} ${y2}`;
        lx = (x1 + x2) / 2; ly = (y1 + y2) / 2;
      } else {
        const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x + W, y2 = b.y + H / 2;
        const side = Math.max(x1, x2) + BEND * (edge.from === edge.to ? 0.5 : 1);
        d = `M ${x1} ${y1} C ${side} ${y1}, ${side} ${y2}, ${x2} ${y2}`;
        lx = side - 8; ly = (y1 + y2) / 2;
      }
      const weight = look.edgeWeight(edge);
      const g = svg("g", { class: "edge" + (weight ? " used" : "") });
      g.append(svg("path", { d, "marker-end": "url(#arrow)", "stroke-width": 1.2 + (4 * (weight || 0)) / heaviest }));
      const label = look.edgeLabel(edge);
      if (label) g.append(svg("text", { x: lx, y: ly, class: "edge-label", "text-anchor": "middle" }, clip(label)));
      root.append(g);
    }

    for (const node of graph.nodes) {
      const p = pos.get(node.id);
      const g = svg("g", { class: `node ${look.nodeClass(node)}`, transform: `translate(${p.x} ${p.y})`,
                           "data-node": node.id });
      const lines = look.lines(node);
      g.append(svg("title", {}, lines.join("\n")));
      g.append(svg("rect", { width: W, height: H, rx: 7 }));
      const fraction = look.bar(node);
      if (fraction) g.append(svg("rect", { class: "bar", x: 0, y: H - 6, width: Math.max(3, W * Math.min(1, fraction)), height: 6, rx: 2 }));
      lines.forEach((line, i) => g.append(svg("text", { x: 10, y: 19 + i * 15, class: i ? "sub" : "title" }, clip(line))));
      root.append(g);
    }
    container.replaceChildren(root);
  }

  return { draw };
})();
