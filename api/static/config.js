// Config page: load, edit or upload an IVR menu or a flow, validate it and deploy it. Each error names
// its file and line as `hotline check` does (ivr/<tenant>/main.yaml:12: ...): a menu is checked with the
// tenant's other IVR files, so an error may be in another file. Lines of the file being edited are marked
// in the gutter and selected on click; lines of other files are not in the editor, so they are not linked.
// A valid definition may come with warnings (people a flow names before the tenant has any): listed the same
// way, marked as warnings, and the definition still deploys.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, flash } = Hotline;
  const form = document.getElementById("config");
  const source = form.elements.source;
  const gutter = form.querySelector(".gutter");
  const problems = document.getElementById("problems");
  const list = document.getElementById("errors");
  let marked = new Set();
  let markedAs = "bad";

  const base = () => {
    const name = encodeURIComponent(form.elements.name.value.trim());
    return form.elements.kind.value === "ivr" ? `/api/v1/ivr/menus/${name}` : `/api/v1/flows/${name}`;
  };

  function drawGutter() {
    const count = source.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: count }, (_, i) =>
      el("span", { class: marked.has(i + 1) ? markedAs : null }, i + 1)));
    gutter.scrollTop = source.scrollTop;
  }

  function selectLine(line) {
    const lines = source.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    source.focus();
    source.setSelectionRange(start, start + (lines[line - 1] || "").length);
    source.scrollTop = Math.max(0, (line - 4) * (source.scrollHeight / lines.length));
  }

  /** True for an error on a line of the text in the editor: ivr/<tenant>/<name>.yaml or flows/<tenant>/<name>.yaml. */
  const inEditor = (e) => {
    const room = form.elements.kind.value === "ivr" ? "ivr" : "flows";
    const name = form.elements.name.value.trim();
    return Boolean(e.line) && e.file.startsWith(`${room}/`) && e.file.endsWith(`/${name}.yaml`);
  };

  /** List `errors` (kind "bad") or warnings (kind "warn") and mark their lines in the gutter. */
  function show(errors, kind = "bad") {
    marked = new Set(errors.filter(inEditor).map((e) => e.line));
    markedAs = kind;
    list.replaceChildren(...errors.map((e) => {
      const here = inEditor(e);
      const where = e.line ? `${e.file}:${e.line}` : e.file;
      const item = el("li", { class: `problem ${kind}`, "data-file": e.file, "data-line": here ? e.line : null },
        here ? el("a", { href: "#", class: "line" }, where) : el("span", { class: "line" }, where),
        `: ${e.message}`, e.hint ? el("span", { class: "hint" }, ` (hint: ${e.hint})`) : null);
      const link = item.querySelector("a");
      if (link) link.addEventListener("click", (event) => { event.preventDefault(); selectLine(e.line); });
      return item;
    }));
    problems.hidden = errors.length === 0;
    drawGutter();
  }

  async function run(method, path, done) {
    if (!form.reportValidity()) return;
    try {
      const result = await api(method, path, source.value);
      const warnings = result.warnings || [];
      show(warnings, "warn");
      flash(warnings.length ? `${done(result)} ${warnings.length} warning(s) below.` : done(result));
    } catch (error) {
      const errors = error.body && error.body.error && error.body.error.errors;
      show(errors || []);
      flash(errors ? `${errors.length} problem(s) found; nothing was deployed.` : error.message, "error");
    }
  }

  form.elements.kind.addEventListener("change", () => {
    form.elements.name.setAttribute("list", `names-${form.elements.kind.value}`);
  });
  form.querySelector("[data-do=load]").addEventListener("click", async () => {
    if (!form.reportValidity()) return;
    try {
      source.value = (await api("GET", base())).source;
      show([]);
      flash("Loaded the deployed version.");
    } catch (error) {
      flash(error.message, "error");
    }
  });
  form.elements.file.addEventListener("change", async () => {
    const file = form.elements.file.files[0];
    if (!file) return;
    source.value = await file.text();
    if (!form.elements.name.value) form.elements.name.value = file.name.replace(/\.ya?ml$/, "");
    show([]);
    flash(`Loaded ${file.name}; validate or deploy it.`);
  });
  form.querySelector("[data-do=validate]").addEventListener("click", () =>
    run("POST", `${base()}/validate`, () => "Valid: no problems found."));
  form.querySelector("[data-do=deploy]").addEventListener("click", () =>
    run("PUT", base(), (r) => (r.version ? `Deployed as version ${r.version}.` : `Deployed ${r.name}.`)));
  form.addEventListener("submit", (event) => event.preventDefault());
  source.addEventListener("input", drawGutter);
  source.addEventListener("scroll", () => { gutter.scrollTop = source.scrollTop; });
  drawGutter();
});
