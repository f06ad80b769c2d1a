"""The dashboard's one page: a learner × exercise grid kept live by server-sent events (polling as a fallback).

Plain HTML and a little JavaScript, no framework and nothing fetched from elsewhere, so it works on a
classroom network without internet. Cells carry `data-learner`, `data-exercise` and `data-state` for tests.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{WORKSHOP}}: class dashboard</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
#status { color: #666; font-size: 0.9em; margin-bottom: 1em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: center; font-size: 0.9em; }
th.ex { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-weight: normal; }
td.name { text-align: left; font-family: monospace; }
td[data-state="passed"] { background: #c8f0c8; }
td[data-state="failed"] { background: #f6d0d0; }
td[data-state="pushed"] { background: #d6e6fb; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; border: 1px solid #ddd; }
.num { font-variant-numeric: tabular-nums; color: #444; }
</style></head>
<body>
<h1>{{WORKSHOP}}: class dashboard</h1>
<div id="status">connecting…</div>
<div class="legend"><span style="background:#c8f0c8">✓ passed</span><span style="background:#f6d0d0">✗ not yet
</span><span style="background:#d6e6fb">• pushed, not checked</span></div>
<table id="grid"><thead></thead><tbody></tbody></table>
<script>
"use strict";
const MARK = {passed: "✓", failed: "✗", pushed: "•", "": ""};
function cell(tag, text, attrs) {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}
function render(grid) {
  const head = document.querySelector("#grid thead");
  const body = document.querySelector("#grid tbody");
  const top = document.createElement("tr");
  top.appendChild(cell("th", "learner"));
  for (const ex of grid.exercises) {
    top.appendChild(cell("th", ex.lesson + " " + ex.id, {class: "ex", title: ex.title}));
  }
  for (const label of ["pushes", "pulls", "mounts", "last seen"]) top.appendChild(cell("th", label));
  head.replaceChildren(top);
  const rows = [];
  for (const learner of grid.learners) {
    const tr = cell("tr", "", {"data-learner": learner.name});
    tr.appendChild(cell("td", learner.name, {class: "name"}));
    for (const ex of grid.exercises) {
      const c = learner.cells[ex.id] || {state: "", attempts: 0, code: ""};
      const checks = c.attempts ? ", " + c.attempts + " check(s), last " + c.code : "";
      const title = c.state ? c.state + checks : "";
      tr.appendChild(cell("td", MARK[c.state] || "", {"data-learner": learner.name, "data-exercise": ex.id,
                                                    "data-state": c.state, title: title}));
    }
    const a = learner.activity;
    tr.appendChild(cell("td", String(a.push), {class: "num", "data-count": "push"}));
    tr.appendChild(cell("td", String(a.pull), {class: "num", "data-count": "pull"}));
    tr.appendChild(cell("td", String(a.mount), {class: "num", "data-count": "mount"}));
    tr.appendChild(cell("td", a.last ? new Date(a.last).toLocaleTimeString() : "", {class: "num"}));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  document.getElementById("status").textContent =
    grid.learners.length + " learners · updated " + new Date().toLocaleTimeString() +
    " · version " + grid.version;
  document.body.setAttribute("data-version", String(grid.version));
}
function poll() {
  fetch("/api/grid", {cache: "no-store"}).then(r => r.json()).then(render).catch(() => {})
    .finally(() => setTimeout(poll, 3000));
}
if (window.EventSource) {
  const source = new EventSource("/api/stream");
  source.onmessage = (event) => render(JSON.parse(event.data));
  source.onerror = () => { document.getElementById("status").textContent = "reconnecting…"; };
} else {
  poll();
}
</script>
</body></html>
"""
