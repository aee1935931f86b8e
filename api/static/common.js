// Shared by every page: the JSON API with the session's CSRF token, a safe element builder,
// messages, readable times, SLA countdowns and the live monitor socket.
// Everything user-visible is set with textContent, never innerHTML (ticket.js swaps in a part of a page the
// server rendered and escaped, parsed by DOMParser, which runs no script).
"use strict";

const Hotline = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  /** Call the API; resolves to the parsed body, rejects with an Error carrying status and body. */
  async function api(method, path, body) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrf() };
    let payload;
    if (typeof body === "string") {
      headers["Content-Type"] = "text/plain; charset=utf-8";
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
    const type = resp.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await resp.json() : await resp.text();
    if (!resp.ok) {
      const error = new Error((data && data.error && data.error.message) || `${resp.status} ${resp.statusText}`);
      error.status = resp.status;
      error.body = data;
      throw error;
    }
    return data;
  }

  /** el("td", {class: "num"}, "3") — attributes and text children, no HTML parsing. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function flash(message, kind = "ok") {
    const box = document.getElementById("flash");
    if (!box) return;
    box.className = kind;
    box.textContent = message;
  }

  function utc(iso) {
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function duration(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}h ${pad(m)}m ${pad(sec)}s` : `${m}m ${pad(sec)}s`;
  }

  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".countdown[data-due]")) {
      const left = new Date(node.dataset.due).getTime() - now;
      node.textContent = left >= 0 ? `${duration(left)} left` : `overdue by ${duration(left)}`;
      node.classList.toggle("overdue", left < 0);
      node.classList.toggle("soon", left >= 0 && left < 15 * 60 * 1000);
    }
  }

  /** Open /ws/monitor; calls onSnapshot(message) and onState("live"|"reconnecting"); reconnects with backoff. */
  function monitor(onSnapshot, onState) {
    let delay = 500;
    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/monitor`);
      socket.addEventListener("open", () => { delay = 500; onState("live"); });
      socket.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "snapshot") onSnapshot(message);
      });
      socket.addEventListener("close", () => {
        onState("reconnecting");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      });
    };
    connect();
  }

  /** Readable times and current countdowns in `root`: the page, or a part of it just swapped in. */
  function localize(root = document) {
    for (const node of root.querySelectorAll("time[datetime]")) node.textContent = utc(node.getAttribute("datetime"));
    tick();
  }

  document.addEventListener("DOMContentLoaded", () => {
    localize();
    setInterval(tick, 1000);
  });

  return { api, el, flash, localize, monitor, utc };
})();
