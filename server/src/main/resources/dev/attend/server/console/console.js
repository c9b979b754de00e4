// The Attend console: plain JavaScript over the server's own HTTP API, no build step.
"use strict";

const $ = (id) => document.getElementById(id);

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const token = $("token").value.trim();
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

async function api(method, path, body) {
  $("error").textContent = "";
  const res = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const message = data && data.error ? data.error.code + ": " + data.error.message : res.status + " " + res.statusText;
    throw new Error(message);
  }
  return data;
}

function fail(e) {
  $("error").textContent = e.message;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (cls) td.className = cls;
  return td;
}

function row(tbody, cells) {
  const tr = document.createElement("tr");
  cells.forEach((c) => tr.appendChild(c));
  tbody.appendChild(tr);
  return tr;
}

function clear(id) {
  const tbody = $(id).querySelector("tbody");
  tbody.replaceChildren();
  return tbody;
}

function weightCell(w) {
  const td = cell("", "num");
  const bar = document.createElement("span");
  bar.className = "bar";
  bar.style.width = Math.round(80 * w) + "px";
  td.appendChild(bar);
  td.appendChild(document.createTextNode(w.toFixed(3)));
  return td;
}

function component(c) {
  return c && c.rank ? "#" + c.rank + " (" + Number(c.score).toFixed(3) + ")" : "-";
}

// ---- pages

function show(page) {
  document.querySelectorAll(".page").forEach((p) => p.classList.toggle("active", p.id === "page-" + page));
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.page === page));
  if (location.hash.slice(1) !== page) history.replaceState(null, "", "#" + page);
  if (page === "search") api("GET", "/v1/search/index").then((ix) => {
    const m = ix.modulation || {};
    $("search-index").textContent = ix.documents + " documents; modulation: " + (m.state || "none");
  }).catch(fail);
  if (page === "recsys") api("GET", "/v1/recsys/model").then((m) => {
    $("recsys-model").textContent = "model: " + m.kind + ", " + m.items + " items, top " + m.topK;
  }).catch(() => { $("recsys-model").textContent = "no model served (train one: ./attend recsys train)"; });
  if (page === "kv") listSessions();
}

function mebibytes(bytes) {
  return (bytes / (1 << 20)).toFixed(1) + " MiB";
}

function listSessions() {
  api("GET", "/v1/kv/sessions").then((r) => {
    const tbody = clear("kv-sessions");
    r.sessions.forEach((s) => {
      const open = document.createElement("button");
      open.textContent = "show";
      open.addEventListener("click", () => { $("kv-id").value = s.id; showSession(); });
      const td = document.createElement("td");
      td.appendChild(open);
      row(tbody, [cell(s.id), cell(s.layers, "num"), cell(s.kvHeads, "num"), cell(s.queryHeads, "num"), cell(s.headDim, "num"),
        cell(s.tokens, "num"), cell(mebibytes(s.memoryBytes), "num"), td]);
    });
  }).catch(fail);
}

function showSession() {
  api("GET", "/v1/kv/sessions/" + encodeURIComponent($("kv-id").value)).then((s) => {
    $("kv-session").textContent = JSON.stringify(s, null, 2);
  }).catch(fail);
}

document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.page)));

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = { query: $("search-query").value, mode: $("search-mode").value, k: Number($("search-k").value) };
  api("POST", "/v1/search", body).then((r) => {
    const tbody = clear("search-hits");
    r.hits.forEach((h, i) => row(tbody, [cell(i + 1), cell(h.title ? h.id + " " + h.title : h.id), cell(Number(h.score).toFixed(4), "num"),
      cell(component(h.bm25)), cell(component(h.dense))]));
  }).catch(fail);
});

async function explain(user, item, category) {
  const e = await api("POST", "/v1/recsys/explain", { user, item, category });
  $("recsys-why-title").textContent = "Why item " + item + " (" + e.behaviors.length + " behaviours kept)";
  const tbody = clear("recsys-why");
  e.behaviors.forEach((b) => row(tbody, [cell(b.position), cell(b.item), cell(b.category), cell(b.action), weightCell(b.weight)]));
}

$("recsys-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const user = Number($("recsys-user").value);
  api("GET", "/v1/recsys/users/" + user + "?limit=20").then((s) => {
    const tbody = clear("recsys-sequence");
    s.behaviors.slice().reverse().forEach((b) => row(tbody, [cell(b.item), cell(b.category), cell(b.action), cell(b.time)]));
  }).catch(fail);
  api("POST", "/v1/recsys/recommend", { user, n: Number($("recsys-n").value) }).then((r) => {
    const tbody = clear("recsys-items");
    r.items.forEach((it) => {
      const why = document.createElement("button");
      why.textContent = "why";
      why.className = "why";
      why.addEventListener("click", () => explain(user, it.item, it.category).catch(fail));
      const td = document.createElement("td");
      td.appendChild(why);
      row(tbody, [cell(it.item), cell(it.category), cell(Number(it.probability).toFixed(4), "num"), td]);
    });
  }).catch(fail);
});

$("kv-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  showSession();
});

$("kv-accuracy-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = { layer: Number($("kv-layer").value) };
  if ($("kv-budget").value) body.budget = Number($("kv-budget").value);
  api("POST", "/v1/kv/sessions/" + encodeURIComponent($("kv-id").value) + "/accuracy", body).then((r) => {
    const m = r.summary;
    $("kv-accuracy-summary").textContent = m.queries + " queries of layer " + r.layer + ": mean relative error " + m.meanRelativeError.toFixed(4)
      + " (max " + m.maxRelativeError.toFixed(4) + "), attention mass kept " + m.meanMassKept.toFixed(4) + ", top-k recall " + m.meanKeyRecall.toFixed(3);
    const tbody = clear("kv-accuracy");
    r.results.forEach((x) => row(tbody, [cell(x.queryHead, "num"), cell(x.answer.mode), cell(x.relativeError.toFixed(4), "num"),
      cell(x.massKept.toFixed(4), "num"), cell(x.keyRecall.toFixed(3), "num"), cell(x.answer.keysScanned, "num"), cell(x.answer.micros, "num"),
      cell(x.exactMicros, "num")]));
  }).catch(fail);
});

$("token").value = sessionStorage.getItem("attend.token") || "";
$("token").addEventListener("change", () => sessionStorage.setItem("attend.token", $("token").value));
show(["search", "recsys", "kv"].includes(location.hash.slice(1)) ? location.hash.slice(1) : "search");
