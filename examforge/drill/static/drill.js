// The examforge drill page. It asks /api/variant for a question (never its answer), builds an
// input fitted to the answer format, posts the answer to /api/check and shows the verdict,
// the answer and the worked solution. The URL holds (type, seed, difficulty, form), so a link
// reproduces the exact variant. Math is typeset by the locally served KaTeX.
"use strict";

const $ = (id) => document.getElementById(id);
const FORM_LABELS = { free: "type the answer", mc: "multiple choice", tf: "true / false" };
let types = [];
let current = null;

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
  const topics = new Map();
  for (const t of types) {
    if (!topics.has(t.topic)) topics.set(t.topic, []);
    topics.get(t.topic).push(t);
  }
  for (const [topic, list] of topics) {
    const group = el("optgroup", { label: topic });
    for (const t of list) group.append(el("option", { value: t.id, text: t.id, title: t.summary }));
    select.append(group);
  }
}

function fillForms(typeId, wanted) {
  const t = types.find((x) => x.id === typeId);
  const select = $("form");
  select.innerHTML = "";
  for (const f of (t ? t.forms : ["free"])) select.append(el("option", { value: f, text: FORM_LABELS[f] || f }));
  if (wanted && [...select.options].some((o) => o.value === wanted)) select.value = wanted;
}

function query(seed) {
  const q = new URLSearchParams({ type: $("type").value, difficulty: $("difficulty").value, form: $("form").value });
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
  } else {
    const input = textInput(fmt.kind === "number" ? "num" : "wide", fmt.kind === "number" ? "" : "e.g. 3, 1, 4");
    box.append(input);
    read = () => input.value;
  }
  let hint = "Answer: " + fmt.hint + ".";
  if (fmt.kind === "choice" || fmt.kind === "bool") hint = "";
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
  $("type").value = v.type;
  fillForms(v.type, v.form);
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

async function check(event) {
  event.preventDefault();
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
    item.className = d.correct ? "right" : "wrong";
    item.dataset.correct = d.correct ? "true" : "false";
    item.append(el("strong", { text: d.correct ? "✔ Right." : "✘ " + d.message }), " You answered ",
      el("span", { class: "given", text: d.given }), ".");
    $("expected").innerHTML = d.expected_html;
    typeset($("expected"));
    setHTML($("full-answer"), d.answer_html || "");
    setHTML($("solution"), d.solution_html);
    $("reveal").hidden = false;
  }
  $("attempts").append(item);
}

function another() { load(query(null)); }

async function start() {
  const r = await api("/api/types");
  if (!r.ok) { status(r.data.error || "cannot load the question types"); return; }
  types = r.data.types;
  fillTypes();
  const params = new URLSearchParams(location.search);
  const wanted = params.get("type");
  if (wanted && types.some((t) => t.id === wanted)) $("type").value = wanted;
  fillForms($("type").value, params.get("form"));
  if (params.get("difficulty")) $("difficulty").value = params.get("difficulty");
  if (wanted) load(params, { push: false });
  else load(query(null), { push: false });

  $("type").addEventListener("change", () => { fillForms($("type").value); another(); });
  $("difficulty").addEventListener("change", another);
  $("form").addEventListener("change", another);
  $("another").addEventListener("click", another);
  $("another-bottom").addEventListener("click", another);
  $("answer-form").addEventListener("submit", check);
  window.addEventListener("popstate", () => load(new URLSearchParams(location.search), { push: false }));
}

document.addEventListener("DOMContentLoaded", start);
