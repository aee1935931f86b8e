// Draws a directed graph as SVG, for the IVR map and the flow map.
// Layout (Sugiyama-lite): a depth-first walk from the start node marks the edges that go back
// (loops); without them the graph is acyclic, and each node's layer is the longest path to it,
// so endings sink to the bottom. A layer is ordered by the average position of its parents.
// Edges to the next layer run straight down; longer edges detour round the left and edges back
// up round the right, through the gaps between layers, each on its own lane.
"use strict";

const Graph = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 176, H = 66, GAP_X = 44, GAP_Y = 64, PAD = 20, LANE = 16, CHARS = 24;

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const clip = (text) => (text.length > CHARS ? text.slice(0, CHARS - 1) + "…" : text);
  const pair = (e) => `${e.from}\u0000${e.to}`;

  function backEdges(ids, out, start) {
    const state = new Map();
    const back = new Set();
    const post = [];
    for (const root of [start, ...ids]) {
      if (!out.has(root) || state.has(root)) continue;
      const stack = [[root, out.get(root)[Symbol.iterator]()]];
      state.set(root, "open");
      while (stack.length) {
        const [id, next] = stack[stack.length - 1];
        const step = next.next();
        if (step.done) { state.set(id, "done"); post.push(id); stack.pop(); continue; }
        const to = step.value;
        if (state.get(to) === "open") back.add(`${id}\u0000${to}`);
        else if (!state.has(to)) { state.set(to, "open"); stack.push([to, out.get(to)[Symbol.iterator]()]); }
      }
    }
    return { back, order: post.reverse() };
  }

  function layout(nodes, edges, start) {
    const ids = nodes.map((n) => n.id);
    const out = new Map(ids.map((id) => [id, []]));
    for (const e of edges) if (out.has(e.from) && out.has(e.to)) out.get(e.from).push(e.to);
    const { back, order } = backEdges(ids, out, start);
    const layer = new Map(ids.map((id) => [id, 0]));
    for (const id of order) {
      for (const to of out.get(id)) {
        if (!back.has(`${id}\u0000${to}`)) layer.set(to, Math.max(layer.get(to), layer.get(id) + 1));
      }
    }
    const rows = [];
    for (const id of order) (rows[layer.get(id)] ||= []).push(id);
    const slot = new Map();
    const ordered = rows.filter(Boolean).map((row) => {
      const score = (id) => {
        const parents = edges.filter((e) => e.to === id && slot.has(e.from)).map((e) => slot.get(e.from));
        return parents.length ? parents.reduce((a, b) => a + b, 0) / parents.length : Infinity;
      };
      const sorted = row.map((id, i) => [score(id), i, id]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
      sorted.forEach((id, i) => slot.set(id, i - (sorted.length - 1) / 2));
      return sorted;
    });
    return { rows: ordered, back };
  }

  function merge(edges) {
    const byPair = new Map();
    for (const e of edges) {
      const seen = byPair.get(pair(e));
      if (seen) seen.labels.push(e.label);
      else byPair.set(pair(e), { ...e, labels: [e.label] });
    }
    return [...byPair.values()];
  }

  /**
   * graph: {nodes: [{id, ...}], edges: [{from, to, label, ...}], start}
   * look: {lines(node) -> [title, ...more], nodeClass(node), bar(node) -> 0..1 | null,
   *        edgeLabel(edge) -> text, edgeWeight(edge) -> number | null}
   */
  function draw(container, graph, look) {
    const { rows, back } = layout(graph.nodes, graph.edges, graph.start);
    const edges = merge(graph.edges);
    const row = new Map();
    rows.forEach((ids, r) => ids.forEach((id) => row.set(id, r)));
    const kind = (e) => (back.has(pair(e)) || row.get(e.to) <= row.get(e.from) ? "back"
      : row.get(e.to) - row.get(e.from) > 1 ? "long" : "near");
    const lanes = { long: 0, back: 0 };
    const span = (e) => Math.abs(row.get(e.to) - row.get(e.from));
    const placed = edges.filter((e) => row.has(e.from) && row.has(e.to));
    for (const e of placed) e.kind = kind(e);
    for (const e of placed.filter((x) => x.kind !== "near").sort((x, y) => span(x) - span(y))) e.lane = ++lanes[e.kind];

    const widest = Math.max(1, ...rows.map((r) => r.length));
    const left = PAD + 24 + LANE * lanes.long, content = widest * W + (widest - 1) * GAP_X;
    const width = left + content + LANE * lanes.back + 40;
    const height = PAD * 2 + rows.length * H + Math.max(0, rows.length - 1) * GAP_Y;
    const pos = new Map();
    rows.forEach((ids, r) => {
      const offset = ((widest - ids.length) * (W + GAP_X)) / 2;
      ids.forEach((id, i) => pos.set(id, { x: left + offset + i * (W + GAP_X), y: PAD + r * (H + GAP_Y) }));
    });

    // Ports: the edges leaving a node share its bottom, those entering it its top, ordered by
    // where the other end lies, so lines do not cross as they leave.
    const across = (e, end) => (e.kind === "long" ? -1e6 : e.kind === "back" ? 1e6 : pos.get(e[end]).x);
    const ports = new Map();
    for (const e of edges) {
      if (!pos.has(e.from) || !pos.has(e.to)) continue;
      for (const [key, other] of [[`${e.from}:out`, "to"], [`${e.to}:in`, "from"]]) {
        (ports.get(key) || ports.set(key, []).get(key)).push([across(e, other), e]);
      }
    }
    for (const list of ports.values()) list.sort((x, y) => x[0] - y[0]);
    const portX = (id, way, edge) => {
      const list = ports.get(`${id}:${way}`);
      return pos.get(id).x + (W * (list.findIndex((x) => x[1] === edge) + 1)) / (list.length + 1);
    };
    const rounded = (points) => points.map(([x, y], i) => {
      if (i === 0 || i === points.length - 1) return `${i ? "L" : "M"} ${x} ${y}`;
      const [px, py] = points[i - 1], [nx, ny] = points[i + 1];
      const r = Math.min(7, Math.hypot(x - px, y - py) / 2, Math.hypot(nx - x, ny - y) / 2);
      const ix = x - Math.sign(x - px) * r, iy = y - Math.sign(y - py) * r;
      return `L ${ix} ${iy} Q ${x} ${y} ${x + Math.sign(nx - x) * r} ${y + Math.sign(ny - y) * r}`;
    }).join(" ");

    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "graph-svg" });
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9,
                                   markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
    const defs = svg("defs");
    defs.append(marker);
    root.append(defs);

    const heaviest = Math.max(1, ...edges.map((e) => look.edgeWeight(e) || 0));
    for (const edge of edges) {
      const a = pos.get(edge.from), b = pos.get(edge.to);
      if (!a || !b) continue;
      const x1 = portX(edge.from, "out", edge), x2 = portX(edge.to, "in", edge);
      let d, lx, ly;
      if (edge.kind === "near") {
        const y1 = a.y + H, y2 = b.y;
        d = `M ${x1} ${y1} C ${x1} ${y1 + GAP_Y / 2}, ${x2} ${y2 - GAP_Y / 2}, ${x2} ${y2}`;
        [lx, ly] = [(x1 + x2) / 2, (y1 + y2) / 2 + 4];
      } else {
        // Down into the gap under the source, along it to the lane, along the lane to the gap
        // over the target, and down into it; each lane has its own height in the gaps.
        const side = edge.kind === "long" ? left - 14 - LANE * (edge.lane - 1) : left + content + 14 + LANE * (edge.lane - 1);
        const dip = 10 + ((edge.lane - 1) % 5) * 8;
        const under = a.y + H + dip, over = b.y - dip;
        d = rounded([[x1, a.y + H], [x1, under], [side, under], [side, over], [x2, over], [x2, b.y]]);
        [lx, ly] = [(x1 + side) / 2, under - 3];
      }
      const weight = look.edgeWeight(edge);
      const g = svg("g", { class: `edge ${edge.kind}` + (weight ? " used" : "") });
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
      g.append(svg("title", {}, lines.join("\n")), svg("rect", { class: "box", width: W, height: H, rx: 7 }));
      const fraction = look.bar(node);
      if (fraction) g.append(svg("rect", { class: "bar", x: 0, y: H - 6, width: Math.max(3, W * Math.min(1, fraction)), height: 6, rx: 2 }));
      lines.forEach((line, i) => g.append(svg("text", { x: 10, y: 19 + i * 15, class: i ? "sub" : "title" }, clip(line))));
      root.append(g);
    }
    container.replaceChildren(root);
  }

  return { draw };
})();
