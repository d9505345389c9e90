// The leaderboard page's behaviour (bench.report.html): plots, sorting, filtering, a run's details.
// Everything from the records comes out of the JSON block and goes into the page as text nodes
// (textContent, createTextNode), never as markup.
"use strict";

const DATA = JSON.parse(document.getElementById("bench-data").textContent);
const PLOT_CONFIG = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"]};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Plots: one plotly figure per task and kind; a click on a point opens its run.
function drawPlots() {
  for (const div of document.querySelectorAll("div.plot")) {
    const figure = DATA.tasks[div.dataset.task].figures[div.dataset.figure];
    Plotly.newPlot(div, figure.data, figure.layout, PLOT_CONFIG).then(() => {
      div.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        const id = point && point.customdata && point.customdata[0];
        if (id) openRun(id);
      });
    });
  }
}

// Sorting: a click on a header sorts by its column, again reverses; numbers as numbers, blanks last.
function sortKey(cell, numeric) {
  const raw = cell.dataset.sort;
  if (!numeric) return raw.toLowerCase();
  return raw === "" ? null : Number(raw);
}

function sortTable(table, column, descending) {
  const numeric = table.tHead.rows[0].cells[column].dataset.kind === "num";
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).map((row, i) => ({row, i, key: sortKey(row.cells[column], numeric)}));
  rows.sort((a, b) => {
    if (a.key === b.key) return a.i - b.i;
    if (a.key === null) return 1;
    if (b.key === null) return -1;
    const order = numeric ? a.key - b.key : a.key.localeCompare(b.key);
    return descending ? -order : order;
  });
  for (const {row} of rows) body.append(row);
  for (const th of table.tHead.rows[0].cells) th.setAttribute("aria-sort", "none");
  table.tHead.rows[0].cells[column].setAttribute("aria-sort", descending ? "descending" : "ascending");
}

function makeSortable(table) {
  Array.from(table.tHead.rows[0].cells).forEach((th, column) => {
    th.querySelector("button").addEventListener("click", () => {
      // numbers sort best first (descending) on the first click, names A to Z
      const current = th.getAttribute("aria-sort");
      const descending = current === "none" ? th.dataset.kind === "num" : current === "ascending";
      sortTable(table, column, descending);
    });
  });
  for (const row of table.tBodies[0].rows) {
    if (!row.dataset.runs) continue;
    const open = () => openRun(row.dataset.runs.split(" ")[0]);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  }
}

function filterRows(input) {
  const table = input.closest("section").querySelector("table.runs");
  const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const row of table.tBodies[0].rows) {
    const text = row.textContent.toLowerCase();
    row.hidden = !words.every((word) => text.includes(word));
  }
}

// A run's details, in the dialog.
function keyValues(rows) {
  return el("table", {class: "kv"}, el("tbody", {}, ...rows.map(([key, value]) =>
    el("tr", {}, el("th", {scope: "row"}, key), el("td", {}, value)))));
}

function nested(value) {
  if (value === null || value === undefined) return "-";
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) return value.join(", ");
    return el("ol", {}, ...value.map((v) => el("li", {}, nested(v))));
  }
  if (typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return "-";
    return keyValues(entries.map(([k, v]) => [k, nested(v)]));
  }
  return String(value);
}

function section(title, ...content) {
  return el("section", {class: "detail"}, el("h3", {}, title), ...content);
}

function confusionTable(run) {
  const labels = run.labels;
  const head = el("tr", {}, el("th", {}, "gold \u2193 / predicted \u2192"), ...labels.map((l) => el("th", {scope: "col"}, l)));
  const rows = run.confusion.map((counts, g) => {  // shaded by the share of the gold row (recall on the diagonal)
    const total = Math.max(1, counts.reduce((a, b) => a + b, 0));
    return el("tr", {}, el("th", {scope: "row"}, labels[g]),
      ...counts.map((n, p) => el("td", {class: g === p ? "hit" : "miss", style: `--share:${(n / total).toFixed(3)}`}, n)));
  });
  return el("table", {class: "confusion"}, el("thead", {}, head), el("tbody", {}, ...rows));
}

function trialsTable(trials) {
  const keys = Array.from(new Set(trials.flatMap((t) => Object.keys(t))));
  return el("table", {class: "trials"}, el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", {}, k)))),
    el("tbody", {}, ...trials.map((t) => el("tr", {}, ...keys.map((k) => el("td", {}, nested(t[k])))))));
}

function wrongTexts(run) {
  const texts = DATA.texts[run.data] || {};
  const list = el("ol", {class: "wrong"});
  const name = (label) => (label >= 0 ? run.labels[label] : "a label out of range");
  const items = run.wrong.map(([index, goldId, predictedId]) => {
    const text = texts[String(index)];
    const gold = name(goldId), predicted = name(predictedId);
    const item = el("li", {}, el("p", {class: "why"}, `test text #${index}: gold ${gold}, predicted ${predicted}`),
                    text === undefined ? el("p", {class: "text missing"}, "(the text could not be loaded)")
                                       : el("p", {class: "text"}, text));
    item.dataset.search = `#${index} ${gold} ${predicted} ${text || ""}`.toLowerCase();
    return item;
  });
  list.append(...items);
  const count = el("p", {class: "count"}, `${items.length} of ${items.length} shown`);
  const search = el("input", {type: "search", class: "search-wrong", placeholder: "search the texts"});
  search.addEventListener("input", () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const item of items) {
      item.hidden = !words.every((word) => item.dataset.search.includes(word));
      if (!item.hidden) shown += 1;
    }
    count.textContent = `${shown} of ${items.length} shown`;
  });
  return [el("label", {}, "Search ", search), count, list];
}

function openRun(id) {
  const run = DATA.runs[id];
  if (!run) return;
  const body = document.getElementById("details-body");
  body.replaceChildren();
  body.append(el("h2", {id: "details-title"}, el("span", {class: "swatch", style: `background:${run.colour}`}),
                 run.title), el("p", {class: "run-id"}, `run ${id} (${run.family})`));
  if (run.error) {
    body.append(section("Why it failed", el("p", {class: "error"}, run.error),
                        run.traceback ? el("pre", {class: "traceback"}, run.traceback) : null));
  }
  const summary = keyValues(run.summary);
  summary.classList.add("summary");
  body.append(section("Results and costs", summary));
  if (run.training && run.training.figure) {
    const plot = el("div", {class: "plot curves"});
    body.append(section("Training curves", plot));
    requestAnimationFrame(() => Plotly.newPlot(plot, run.training.figure.data, run.training.figure.layout, PLOT_CONFIG));
  }
  if (run.confusion) body.append(section("Confusion matrix", confusionTable(run)));
  if (run.calibration.length) body.append(section("Calibration", keyValues(run.calibration)));
  if (run.tuning.length) {
    body.append(section("Tuning", keyValues(run.tuning),
                        el("p", {class: "count"}, "Every configuration tried, best first:"), trialsTable(run.trials)));
  }
  if (run.confusion) body.append(section(`Test texts it got wrong (${run.wrong.length})`, ...wrongTexts(run)));
  if (run.note) body.append(section("Test texts", el("p", {class: "note"}, `Missing: ${run.note}.`)));
  body.append(section("Configuration", nested(run.config)));
  body.append(section("Provenance", nested(run.provenance)));
  if (Object.keys(run.extra).length) body.append(section("Reported by the strategy", nested(run.extra)));
  const dialog = document.getElementById("details");
  if (!dialog.open) dialog.showModal();
  dialog.scrollTop = 0;
  history.replaceState(null, "", `#run=${id}`);
}

function start() {
  drawPlots();
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.querySelectorAll("input.filter-runs").forEach((input) =>
    input.addEventListener("input", () => filterRows(input)));
  const dialog = document.getElementById("details");
  dialog.addEventListener("close", () => history.replaceState(null, "", location.pathname + location.search));
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  const match = location.hash.match(/^#run=([\w-]+)$/);
  if (match) openRun(match[1]);
}

start();
