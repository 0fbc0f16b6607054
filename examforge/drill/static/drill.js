// The examforge drill page. It asks /api/variant for a question (never its answer), builds an
// input fitted to the answer format, posts the answer to /api/check and shows the verdict,
// the answer and the worked solution. The URL holds (type, seed, difficulty, form), so a link
// reproduces the exact variant. Math is typeset by the locally served KaTeX.
"use strict";

const $ = (id) => document.getElementById(id);
const FORM_LABELS = { free: "type the answer", mc: "multiple choice", tf: "true / false", multi: "select all that apply" };
const SUBJECTS = ["Foundations", "Classical models", "Neural networks and training", "Convolutional networks",
  "Sequences and attention", "Representation learning", "More topics"];
let types = [];
let current = null;
let sets = [];          // the drill sets (/api/sets), each at /?set=NAME
let currentSet = null;  // the set this page drills, if any: the picker offers its types only

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    return { ok: false, status: 0, data: { error: "the drill server cannot be reached" } };
  }
  let data = {};
  try { data = await response.json(); } catch (err) { data = { error: `HTTP ${response.status}` }; }
  return { ok: response.ok, status: response.status, data };
}

function typeset(root) {
  if (!window.katex) return;
  root.querySelectorAll(".math").forEach((el) => {
    if (el.dataset.tex) return;
    const tex = el.textContent;
    el.dataset.tex = tex;
    katex.render(tex, el, {
      displayMode: el.classList.contains("display"), throwOnError: false, strict: "ignore", trust: false,
    });
  });
}

function setHTML(el, html) {
  el.innerHTML = html;
  typeset(el);
}

function status(message) { $("status").textContent = message || ""; }

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// -- controls --------------------------------------------------------------------------------------

function fillTypes() {
  const select = $("type");
  select.innerHTML = "";
  const groups = new Map();  // "Subject: Topic" -> types, subjects in the server's order
  if (currentSet) select.append(el("option", { value: "", text: "Any question of the set" }));
  for (const t of types) {
    if (currentSet && !currentSet.types.includes(t.id)) continue;
    const label = `${t.subject || "More topics"}: ${t.topic_name || t.topic}`;
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(t);
  }
  const labels = [...groups.keys()].sort((a, b) => {
    const sa = SUBJECTS.indexOf(a.split(":")[0]), sb = SUBJECTS.indexOf(b.split(":")[0]);
    return (sa < 0 ? 99 : sa) - (sb < 0 ? 99 : sb) || a.localeCompare(b);
  });
  for (const label of labels) {
    const group = el("optgroup", { label });
    for (const t of groups.get(label)) {
      const name = t.summary ? (t.summary.length > 70 ? t.summary.slice(0, 67) + "…" : t.summary) : t.id;
      group.append(el("option", { value: t.id, text: name, title: t.id }));
    }
    select.append(group);
  }
}

function fillForms(typeId, wanted) {
  const t = types.find((x) => x.id === typeId);
  const select = $("form");
  select.innerHTML = "";
  if (currentSet && !typeId) {  // any question of the set: the set's form, where a type offers it
    select.append(el("option", { value: "", text: currentSet.form ? FORM_LABELS[currentSet.form] : "each question's own" }));
    return;
  }
  for (const f of (t ? t.forms : ["free"])) select.append(el("option", { value: f, text: FORM_LABELS[f] || f }));
  if (wanted && [...select.options].some((o) => o.value === wanted)) select.value = wanted;
}

function query(seed) {
  const q = new URLSearchParams({ type: $("type").value, difficulty: $("difficulty").value, form: $("form").value });
  if (currentSet) {
    q.set("set", currentSet.name);
    if (!q.get("type")) { q.delete("type"); q.delete("form"); }  // the server picks from the set
  }
  if (seed !== undefined && seed !== null) q.set("seed", seed);
  return q;
}

// -- the answer input ------------------------------------------------------------------------------

function textInput(cls, placeholder) {
  return el("input", { type: "text", class: cls, placeholder: placeholder || "", spellcheck: "false",
    autocapitalize: "off", inputmode: "text" });
}

function buildInput(v) {
  const box = $("answer-input");
  box.innerHTML = "";
  const fmt = v.answer_format;
  let read;
  if (fmt.kind === "choice") {
    const list = el("ul", { class: "choices" });
    const kind = fmt.multiple ? "checkbox" : "radio";
    for (const c of v.choices) {
      const input = el("input", { type: kind, name: "choice", value: c.letter });
      const text = el("span", { class: "option" });
      text.innerHTML = c.html;
      list.append(el("li", {}, [el("label", {}, [input, el("span", { class: "letter", text: v.form === "tf" ? "" : c.letter + "." }), text])]));
    }
    box.append(list);
    typeset(list);
    read = () => {
      const picked = [...list.querySelectorAll("input:checked")].map((x) => x.value);
      return fmt.multiple ? picked : (picked[0] || "");
    };
  } else if (fmt.kind === "bool") {
    const list = el("ul", { class: "choices" });
    for (const [value, label] of [["true", "True"], ["false", "False"]]) {
      list.append(el("li", {}, [el("label", {}, [el("input", { type: "radio", name: "choice", value }), label])]));
    }
    box.append(list);
    read = () => (list.querySelector("input:checked") || {}).value || "";
  } else if (fmt.labels && (fmt.kind === "number" || fmt.kind === "vector")) {
    const inputs = [];
    fmt.labels.forEach((label, i) => {
      if (label) box.append(el("span", { class: "label", text: label }));
      if (i < fmt.labels.length - 1) {
        const input = textInput("num", "");
        inputs.push(input);
        box.append(input);
      }
    });
    read = () => (fmt.kind === "number" ? inputs[0].value : inputs.map((x) => x.value));
  } else if (fmt.kind === "shape") {
    const inputs = [];
    for (let i = 0; i < (fmt.rank || 2); i++) {
      if (i) box.append(el("span", { class: "times", text: "×" }));
      const input = textInput("num", "");
      inputs.push(input);
      box.append(input);
    }
    read = () => inputs.map((x) => x.value);
  } else if (fmt.kind === "matrix") {
    read = matrixGrid(box);
  } else if (fmt.kind === "open") {
    const area = el("textarea", { class: "open", rows: "5", spellcheck: "true",
      placeholder: "Write your answer in your own words, then compare it with the model answer." });
    box.append(area);
    read = () => area.value;
  } else {
    const input = textInput(fmt.kind === "number" ? "num" : "wide", fmt.kind === "number" ? "" : "e.g. 3, 1, 4");
    box.append(input);
    read = () => input.value;
  }
  let hint = "Answer: " + fmt.hint + ".";
  if (fmt.kind === "choice" || fmt.kind === "bool") hint = fmt.multiple ? "Select all that apply." : "";
  else if (fmt.kind === "open") hint = "Not graded: after you submit, compare your answer with the model answer and its rubric (Ctrl+Enter submits).";
  else if (fmt.kind === "matrix") hint = "Fill in the matrix; size it with the row and column buttons.";
  else if (fmt.kind === "shape") hint = "One dimension per box.";
  else if (fmt.labels) hint = "Fill in each box.";
  if (["number", "vector", "matrix"].includes(fmt.kind)) hint += " Fractions like 1/3 are fine.";
  $("hint").textContent = hint;
  const first = box.querySelector("input");
  if (first && fmt.kind !== "choice") first.focus();
  return read;
}

function matrixGrid(box) {
  let rows = 2, cols = 2;
  const table = el("table");
  const wrap = el("div", { class: "matrix" }, [el("div", { class: "bracket left" }), table, el("div", { class: "bracket right" })]);
  const keep = () => [...table.rows].map((r) => [...r.cells].map((c) => c.firstChild.value));
  const draw = (values) => {
    table.innerHTML = "";
    for (let i = 0; i < rows; i++) {
      const tr = table.insertRow();
      for (let j = 0; j < cols; j++) {
        const input = textInput("cell", "");
        input.setAttribute("aria-label", `row ${i + 1}, column ${j + 1}`);
        input.value = (values[i] && values[i][j]) || "";
        tr.insertCell().append(input);
      }
    }
  };
  const button = (label, title, change) => {
    const b = el("button", { type: "button", class: "small", text: label, title });
    b.addEventListener("click", () => {
      const values = keep();
      change();
      rows = Math.max(1, Math.min(12, rows));
      cols = Math.max(1, Math.min(12, cols));
      draw(values);
    });
    return b;
  };
  const buttons = el("div", { class: "grid-buttons" }, [
    button("+ row", "add a row", () => rows++), button("− row", "remove the last row", () => rows--),
    button("+ col", "add a column", () => cols++), button("− col", "remove the last column", () => cols--),
  ]);
  draw([]);
  box.append(wrap, buttons);
  return () => keep();
}

// -- one variant ---------------------------------------------------------------------------------------

let readAnswer = () => "";

function show(v) {
  current = v;
  $("card").hidden = false;
  $("meta-type").textContent = v.type;
  $("meta-seed").textContent = v.seed;
  $("meta-difficulty").textContent = v.difficulty;
  $("summary").textContent = v.summary;
  $("permalink").href = v.permalink;
  setHTML($("question"), v.question_html);
  readAnswer = buildInput(v);
  $("attempts").innerHTML = "";
  $("reveal").hidden = true;
  $("check").disabled = false;
  $("give-up").disabled = false;
  $("check").textContent = v.answer_format.kind === "open" ? "Submit and compare" : "Check";
  settled = false;
  if (!(currentSet && $("type").value === "")) {  // "any question of the set" stays selected
    $("type").value = v.type;
    fillForms(v.type, v.form);
  }
  $("difficulty").value = v.difficulty;
}

async function load(q, { push = true } = {}) {
  status("");
  const r = await api("/api/variant?" + q.toString());
  if (!r.ok) { status(r.data.error || `error ${r.status}`); return; }
  show(r.data);
  const url = r.data.permalink;
  if (push && location.pathname + location.search !== url) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

// An attempt's verdict is final: the first answer to a variant (or "show solution", which
// counts as given up) is what the progress records; answering again afterwards is practice.
let settled = false;

function showReveal(d) {
  $("answer-line").hidden = !d.expected_html;
  $("expected").innerHTML = d.expected_html || "";
  typeset($("expected"));
  setHTML($("full-answer"), d.answer_html || "");
  setHTML($("solution"), d.solution_html);
  $("reveal").hidden = false;
}

function verdictOf(d) {
  if (d.graded === false) return "open";
  if (d.correct) return "right";
  return d.credit > 0 ? "partial" : "wrong";
}

async function check(event) {
  if (event) event.preventDefault();
  if (!current) return;
  const body = { type: current.type, seed: current.seed, difficulty: current.difficulty, form: current.form, answer: readAnswer() };
  $("check").disabled = true;
  const r = await api("/api/check", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  $("check").disabled = false;
  const item = el("li");
  if (r.status === 422) {
    item.className = "unreadable";
    item.textContent = "Could not read that: " + r.data.error;
  } else if (!r.ok) {
    item.className = "unreadable";
    item.textContent = r.data.error || `error ${r.status}`;
  } else {
    const d = r.data;
    const outcome = verdictOf(d);
    item.className = outcome;
    item.dataset.correct = d.correct ? "true" : "false";
    item.dataset.outcome = outcome;
    const mark = { right: "✔ ", wrong: "✘ ", partial: "◑ ", open: "✎ " }[outcome];
    item.append(el("strong", { text: mark + (outcome === "right" ? "Right." : d.message) }));
    if (outcome !== "open") item.append(" You answered ", el("span", { class: "given", text: d.given }), ".");
    if (d.why) item.append(el("span", { class: "why", text: d.why }));
    if (settled) item.append(el("span", { class: "practice", text: "Practice: the first attempt counts." }));
    else {
      settled = true;
      record({ outcome, credit: d.credit, mistakes: d.mistakes || (d.mistake ? [d.mistake] : []) });
    }
    showReveal(d);
  }
  $("attempts").append(item);
}

async function giveUp() {
  if (!current) return;
  const q = new URLSearchParams({ type: current.type, seed: current.seed, difficulty: current.difficulty, form: current.form });
  const r = await api("/api/solution?" + q.toString());
  if (!r.ok) { status(r.data.error || `error ${r.status}`); return; }
  if (!settled) {
    settled = true;
    const open = current.answer_format.kind === "open";
    record({ outcome: open ? "open" : "gave_up", mistakes: [] });
    $("attempts").append(el("li", { class: "gave-up", text: open ? "Model answer shown." :
      "Solution shown: counted as given up. You can still answer, as practice." }));
  }
  $("give-up").disabled = true;
  showReveal(r.data);
}

// -- progress: in this browser only (localStorage), never on the server ------------------------------

const STORE = "examforge.drill.progress.v1";
const MAX_KEPT = 5000;

function loadProgress() {
  try {
    const data = JSON.parse(localStorage.getItem(STORE) || "null");
    if (data && Array.isArray(data.attempts)) return data;
  } catch (err) { /* a damaged store starts afresh */ }
  return { version: 1, attempts: [] };
}

function saveProgress(data) {
  data.attempts = data.attempts.slice(-MAX_KEPT);
  try { localStorage.setItem(STORE, JSON.stringify(data)); } catch (err) { status("progress could not be saved in this browser"); }
}

function record(result) {
  const t = types.find((x) => x.id === current.type) || {};
  const data = loadProgress();
  data.attempts.push({ at: new Date().toISOString(), type: current.type, topic: t.topic || current.type.split(".")[0],
    seed: current.seed, difficulty: current.difficulty, form: current.form, outcome: result.outcome,
    credit: typeof result.credit === "number" ? result.credit : undefined, mistakes: result.mistakes || [] });
  saveProgress(data);
}

function topicLabel(topic) {
  const t = types.find((x) => x.topic === topic);
  return t && t.topic_name ? t.topic_name : topic;
}

function stats(attempts) {
  const graded = attempts.filter((a) => a.outcome !== "open");
  const points = (a) => (a.outcome === "right" ? 1 : a.outcome === "partial" ? (a.credit || 0) : 0);
  let streak = 0;
  for (let i = graded.length - 1; i >= 0 && graded[i].outcome === "right"; i--) streak++;
  let best = 0, run = 0;
  for (const a of graded) { run = a.outcome === "right" ? run + 1 : 0; best = Math.max(best, run); }
  const topics = new Map();
  for (const a of graded) {
    const s = topics.get(a.topic) || { n: 0, points: 0 };
    s.n++; s.points += points(a);
    topics.set(a.topic, s);
  }
  const mistakes = new Map();
  for (const a of attempts) for (const m of a.mistakes || []) mistakes.set(m, (mistakes.get(m) || 0) + 1);
  const score = graded.reduce((sum, a) => sum + points(a), 0);
  return { graded: graded.length, open: attempts.length - graded.length, score, streak, best, topics, mistakes,
    gaveUp: graded.filter((a) => a.outcome === "gave_up").length };
}

function renderProgress() {
  const data = loadProgress();
  const s = stats(data.attempts);
  const pct = (x, n) => (n ? Math.round((100 * x) / n) + "%" : "–");
  const summary = $("progress-summary");
  summary.innerHTML = "";
  for (const [label, value] of [["Score", `${+s.score.toFixed(2)} / ${s.graded}`], ["Accuracy", pct(s.score, s.graded)],
    ["Streak", `${s.streak} (best ${s.best})`], ["Given up", String(s.gaveUp)], ["Open answers compared", String(s.open)]]) {
    summary.append(el("div", { class: "stat" }, [el("span", { class: "stat-label", text: label }), el("span", { class: "stat-value", text: value })]));
  }
  const topics = $("progress-topics");
  topics.innerHTML = "";
  topics.append(el("tr", {}, [el("th", { text: "Topic" }), el("th", { text: "Attempts" }), el("th", { text: "Accuracy" })]));
  for (const [topic, v] of [...s.topics].sort((a, b) => a[1].points / a[1].n - b[1].points / b[1].n)) {
    const bar = el("span", { class: "bar" }, [el("span", { style: `width:${pct(v.points, v.n)}` })]);
    topics.append(el("tr", {}, [el("td", { text: topicLabel(topic) }), el("td", { text: String(v.n) }),
      el("td", {}, [bar, " " + pct(v.points, v.n)])]));
  }
  const mistakes = $("progress-mistakes");
  mistakes.innerHTML = "";
  if (!s.mistakes.size) mistakes.append(el("li", { text: "None named yet." }));
  for (const [m, n] of [...s.mistakes].sort((a, b) => b[1] - a[1])) {
    mistakes.append(el("li", {}, [el("span", { class: "mistake-name", text: m.replace(/_/g, " ") }), ` × ${n}`]));
  }
  const recent = $("progress-recent");
  recent.innerHTML = "";
  recent.append(el("tr", {}, ["When", "Question", "Result"].map((h) => el("th", { text: h }))));
  const words = { right: "right", wrong: "wrong", partial: "partly right", gave_up: "gave up", open: "compared" };
  for (const a of data.attempts.slice(-15).reverse()) {
    const link = el("a", { href: `/?type=${encodeURIComponent(a.type)}&seed=${a.seed}&difficulty=${a.difficulty}&form=${a.form}`, text: a.type });
    recent.append(el("tr", { class: "r-" + a.outcome }, [el("td", { text: (a.at || "").slice(5, 16).replace("T", " ") }),
      el("td", {}, [link]), el("td", { text: words[a.outcome] || a.outcome })]));
  }
}

function showProgress(on) {
  $("progress").hidden = !on;
  $("card").hidden = on || !current;
  if (on) renderProgress();
}

function exportProgress() {
  const blob = new Blob([JSON.stringify(loadProgress(), null, 1)], { type: "application/json" });
  const a = el("a", { href: URL.createObjectURL(blob), download: "examforge-progress.json" });
  document.body.append(a);
  a.click();
  a.remove();
}

async function importProgress(event) {
  const file = event.target.files[0];
  if (!file) return;
  const note = $("progress-status");
  try {
    if (file.size > 20e6) throw new Error("the file is larger than 20 MB");
    const data = JSON.parse(await file.text());
    if (!data || !Array.isArray(data.attempts)) throw new Error("no 'attempts' list in it");
    const ok = data.attempts.filter((a) => a && typeof a.type === "string" && typeof a.outcome === "string");
    const mine = loadProgress();
    const seen = new Set(mine.attempts.map((a) => `${a.at}|${a.type}|${a.seed}`));
    const added = ok.filter((a) => !seen.has(`${a.at}|${a.type}|${a.seed}`));
    mine.attempts = mine.attempts.concat(added).sort((a, b) => String(a.at).localeCompare(String(b.at)));
    saveProgress(mine);
    note.textContent = `Imported ${added.length} attempts from ${file.name}.`;
    renderProgress();
  } catch (err) {
    note.textContent = `Could not import ${file.name}: ${err.message}`;
  }
  event.target.value = "";
}

function another() { load(query(null)); }

function fillSets(params) {
  const nav = $("sets");
  nav.innerHTML = "";
  if (!sets.length) { nav.hidden = true; return; }
  nav.append(el("span", { text: "Drill sets:" }));
  for (const s of sets) {
    const link = el("a", { href: s.url, text: s.title, "data-set": s.name });
    if (currentSet && currentSet.name === s.name) link.setAttribute("aria-current", "page");
    nav.append(link);
  }
  if (currentSet) nav.append(el("a", { href: "/", text: "All questions" }));
  nav.hidden = false;
}

async function start() {
  const [r, rs] = await Promise.all([api("/api/types"), api("/api/sets")]);
  if (!r.ok) { status(r.data.error || "cannot load the question types"); return; }
  types = r.data.types;
  sets = rs.ok ? rs.data.sets : [];
  const params = new URLSearchParams(location.search);
  let missing = "";
  if (params.get("set")) {
    currentSet = sets.find((s) => s.name === params.get("set")) || null;
    if (!currentSet) { missing = `There is no drill set ${params.get("set")} on this server.`; params.delete("set"); }
  }
  fillSets(params);
  $("set-title").textContent = currentSet ? currentSet.title : "";
  $("set-title").hidden = !currentSet;
  if (currentSet) document.title = `${currentSet.title} · examforge drill`;
  fillTypes();
  const wanted = params.get("type");
  if (wanted && types.some((t) => t.id === wanted)) $("type").value = wanted;
  fillForms($("type").value, params.get("form"));
  $("difficulty").value = params.get("difficulty") || (currentSet ? currentSet.difficulty : "medium");
  const first = wanted || (currentSet && params.get("seed")) ? load(params, { push: false }) : load(query(null), { push: false });
  if (missing) first.then(() => status(missing));

  $("type").addEventListener("change", () => { fillForms($("type").value); another(); });
  $("difficulty").addEventListener("change", another);
  $("form").addEventListener("change", another);
  $("another").addEventListener("click", another);
  $("another-bottom").addEventListener("click", another);
  $("answer-form").addEventListener("submit", check);
  $("give-up").addEventListener("click", giveUp);
  $("show-progress").addEventListener("click", () => showProgress($("progress").hidden));
  $("back-to-drill").addEventListener("click", () => showProgress(false));
  $("export-progress").addEventListener("click", exportProgress);
  $("import-progress").addEventListener("change", importProgress);
  document.addEventListener("keydown", (e) => {
    const typing = e.target.closest && e.target.closest("input[type=text], textarea, select");
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.tagName === "TEXTAREA") { e.preventDefault(); check(); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "n" || e.key === "N") { e.preventDefault(); showProgress(false); another(); }
    else if (e.key === "Enter" && !$("card").hidden && e.target.tagName !== "BUTTON" && e.target.tagName !== "A") { e.preventDefault(); check(); }
  });
  window.addEventListener("popstate", () => load(new URLSearchParams(location.search), { push: false }));
}

document.addEventListener("DOMContentLoaded", start);
