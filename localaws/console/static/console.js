// The localaws console: polls the /_localaws/console/* JSON views and redraws. No framework, no build step.
// Every value from the server goes into the page as text (textContent), never as HTML.
"use strict";

const POLL_MS = 2000;
const BASE = "/_localaws/console/";
const stackSelect = document.getElementById("stack");
const statusLine = document.getElementById("status");
const opened = new Set(); // request ids / keys whose <details> the user opened: kept open across redraws

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
}
function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }
function ms(n) { return n === null || n === undefined ? "" : (n >= 1000 ? (n / 1000).toFixed(2) + " s" : Math.round(n) + " ms"); }
function clock(iso) {
  if (!iso) return "";
  const d = typeof iso === "number" ? new Date(iso) : new Date(iso);
  return d.toLocaleTimeString([], { hour12: false });
}
function statusWord(s) {
  const cls = { ok: "ok", SUCCEEDED: "ok", COMPLETED: "ok", READY: "ok", running: "warn", RUNNING: "warn", QUEUED: "warn" }[s] || "bad";
  return el("span", { class: cls }, s);
}
function replaceBody(table, rows, emptyText, columns) {
  const body = table.tBodies[0];
  body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: columns }, emptyText))]));
}
function keepOpen(details, id) {
  if (opened.has(id)) details.open = true;
  details.addEventListener("toggle", () => (details.open ? opened.add(id) : opened.delete(id)));
  return details;
}

async function view(name) {
  const params = new URLSearchParams();
  if (stackSelect.value) params.set("stack", stackSelect.value);
  const response = await fetch(BASE + name + "?" + params, { cache: "no-store" });
  if (!response.ok) throw new Error(name + ": HTTP " + response.status);
  return response.json();
}

const lastCounts = {};
function drawCounts(counts) {
  for (const span of document.querySelectorAll("[data-count]")) {
    const key = span.dataset.count;
    const text = String(counts[key] ?? 0);
    if (span.textContent !== text) {
      span.textContent = text;
      if (key in lastCounts) { const box = span.closest(".node, .arrow"); box.classList.remove("flash"); void box.offsetWidth; box.classList.add("flash"); }
    }
    lastCounts[key] = counts[key];
  }
  for (const span of document.querySelectorAll("[data-bytes]")) span.textContent = bytes(counts[span.dataset.bytes] || 0);
  for (const span of document.querySelectorAll("[data-usd]")) span.textContent = "$" + (counts[span.dataset.usd] || 0).toFixed(6);
}

// The function's own last log line (its outcome, usually), without the runtime's "[LEVEL]\ttime\trequest id\t" prefix.
function lastLine(lines) {
  const own = lines.filter((l) => !/^(START|END|REPORT) RequestId:/.test(l)).pop();
  if (!own) return "";
  let text = own.split("\t").slice(-1)[0];
  try { // a JSON log line reads better as "key value · key value"
    const doc = JSON.parse(text);
    if (doc && typeof doc === "object" && !Array.isArray(doc)) {
      text = Object.entries(doc).filter(([, v]) => typeof v !== "object").map(([k, v]) => `${k} ${v}`).join(" · ");
    }
  } catch (_) { /* not JSON: shown as written */ }
  return text.length > 120 ? text.slice(0, 120) + "…" : text;
}

let lastInvocations = { invocations: [] };
document.getElementById("only-events").addEventListener("change", () => drawInvocations(lastInvocations));

function drawInvocations(data) {
  lastInvocations = data;
  const rows = [];
  const onlyEvents = document.getElementById("only-events").checked;
  for (const inv of data.invocations) {
    if (onlyEvents && !inv.event) continue;
    const r = inv.report || {};
    const event = inv.event
      ? el("span", {}, el("code", {}, inv.event.key), " ", el("span", { class: "muted" }, bytes(inv.event.size)))
      : el("span", { class: "muted" }, lastLine(inv.lines) || "(its log names no S3 event)");
    // The log lines open in a row of their own, as wide as the table.
    const details = el("details", { open: opened.has(inv.request_id) }, el("summary", { title: event.textContent }, event));
    details.addEventListener("toggle", () => {
      if (details.open === opened.has(inv.request_id)) return;
      if (details.open) opened.add(inv.request_id); else opened.delete(inv.request_id);
      drawInvocations(lastInvocations);
    });
    rows.push(el("tr", { "data-request-id": inv.request_id, "data-status": inv.status, "data-function": inv.function },
      el("td", { class: "num" }, clock(inv.started)), el("td", { class: "event" }, details,
        el("div", { class: "fn" }, inv.event ? el("b", {}, `${inv.event.name} → `) : null, inv.function)),
      el("td", {}, statusWord(inv.status)), el("td", { class: "num" }, ms(r.duration_ms)), el("td", { class: "num" }, ms(r.billed_ms)),
      el("td", { class: "num" }, r.init_ms ? ms(r.init_ms) : "warm"),
      el("td", { class: "num" }, r.max_memory_mb ? `${r.max_memory_mb}/${r.memory_mb} MB` : "")));
    if (opened.has(inv.request_id)) {
      rows.push(el("tr", { class: "log-row" }, el("td", { colspan: 7 }, el("pre", { class: "log" }, inv.lines.join("\n")))));
    }
  }
  replaceBody(document.getElementById("invocations"), rows, "No invocations yet: upload a file to raw/.", 7);
}

function drawS3(data) {
  const parts = [];
  for (const bucket of data.buckets) {
    parts.push(el("div", { class: "mono muted" }, "s3://" + bucket.bucket));
    for (const group of bucket.prefixes) {
      const list = el("ul", {}, group.objects.map((o) => el("li", { "data-key": o.key }, el("code", {}, o.key), " ", el("span", { class: "muted" }, bytes(o.size)))));
      const summary = el("summary", { class: "prefix", "data-prefix": group.prefix }, el("span", {}, group.prefix), el("span", { class: "muted" }, `${plural(group.count, "object")} · ${bytes(group.bytes)}`));
      parts.push(keepOpen(el("details", {}, summary, list), bucket.bucket + "/" + group.prefix));
    }
  }
  document.getElementById("s3").replaceChildren(...(parts.length ? parts : [el("p", { class: "empty" }, "No buckets.")]));
}

function drawCrawls(data) {
  const crawls = data.crawls.map((c) => {
    const changes = [];
    if (c.tables_added.length) changes.push(el("div", {}, "tables added: ", el("b", { class: "table-added" }, c.tables_added.join(", "))));
    if (c.tables_changed.length) changes.push(el("div", {}, "tables changed: ", el("b", {}, c.tables_changed.join(", "))));
    if (c.partitions_added.length) changes.push(el("div", {}, "partitions added: ", el("code", {}, c.partitions_added.join(", "))));
    if (!changes.length && c.state !== "RUNNING") changes.push(el("div", { class: "muted" }, "no catalog changes"));
    return el("div", { class: "crawl", "data-crawl-state": c.state },
      el("div", {}, el("b", {}, c.crawler), " ", statusWord(c.state), " ", el("span", { class: "muted" }, clock(c.started))),
      c.error ? el("div", { class: "reason" }, c.error) : null, changes);
  });
  document.getElementById("crawls").replaceChildren(...(crawls.length ? crawls : [el("p", { class: "empty" }, "No crawls yet.")]));
  const rows = data.tables.map((t) => el("tr", { "data-table": t.name },
    el("td", {}, el("code", {}, `${t.database}.${t.name}`)), el("td", { class: "num" }, t.columns), el("td", { class: "num" }, t.partitions.length)));
  replaceBody(document.getElementById("tables"), rows, "No tables yet.", 3);
}

function drawQuarantine(data) {
  const parts = data.files.map((f) => el("div", { class: "crawl", "data-quarantined": f.key },
    el("code", {}, f.key), el("div", { class: "reason" }, f.reason)));
  if (!data.files.length) parts.push(el("p", { class: "empty" }, "No quarantined files."));
  parts.push(el("h3", {}, `Dead-letter messages (${data.dead_letters.length})`));
  for (const m of data.dead_letters) {
    const why = m.attributes.ErrorMessage || m.attributes.ErrorCode || "";
    parts.push(keepOpen(el("details", { "data-dead-letter": m.message_id },
      el("summary", {}, el("code", {}, m.queue), " ", clock(m.sent), " ", el("span", { class: "reason" }, why)),
      el("pre", { class: "log" }, m.body)), m.message_id));
  }
  document.getElementById("quarantine").replaceChildren(...parts);
}

function drawQueries(data) {
  const rows = data.queries.map((q) => el("tr", { "data-query-id": q.id, "data-state": q.state },
    el("td", { class: "num" }, clock(q.submitted)),
    el("td", {}, el("code", {}, q.sql), q.reason ? el("div", { class: "reason" }, q.reason) : null),
    el("td", {}, statusWord(q.state)), el("td", { class: "num" }, bytes(q.bytes_scanned)),
    el("td", { class: "num" }, ms(q.time_ms)), el("td", { class: "num" }, "$" + q.price_usd.toFixed(6))));
  replaceBody(document.getElementById("queries"), rows, "No queries yet.", 6);
}

function drawIam(data) {
  const box = document.getElementById("iam");
  if (!data.denials.length) {
    box.replaceChildren(el("p", { class: "empty" }, data.recorded ? `None recorded (IAM mode: ${data.mode}).` : "None recorded."));
    return;
  }
  box.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "principal"), el("th", {}, "action"), el("th", {}, "resource"), el("th", {}, "count"))),
    el("tbody", {}, data.denials.map((d) => el("tr", {}, el("td", {}, el("code", {}, d.principal)), el("td", {}, el("code", {}, d.action)),
      el("td", {}, el("code", {}, d.resource)), el("td", { class: "num" }, d.count))))));
}

async function refreshStacks() {
  const { stacks } = await view("stacks");
  const known = new Set([...stackSelect.options].map((o) => o.value));
  for (const name of stacks) if (!known.has(name)) stackSelect.append(el("option", { value: name }, name));
}

async function poll() {
  try {
    const [counts, invocations, s3, crawls, quarantine, queries, iam] = await Promise.all(
      ["pipeline", "invocations", "s3", "crawls", "quarantine", "queries", "iam"].map(view));
    drawCounts(counts); drawInvocations(invocations); drawS3(s3); drawCrawls(crawls);
    drawQuarantine(quarantine); drawQueries(queries); drawIam(iam);
    await refreshStacks();
    statusLine.textContent = "live · updated " + new Date().toLocaleTimeString([], { hour12: false });
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (error) {
    statusLine.textContent = "not reachable: " + error.message;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

const wanted = new URLSearchParams(location.search).get("stack");
if (wanted) { stackSelect.append(el("option", { value: wanted }, wanted)); stackSelect.value = wanted; }
stackSelect.addEventListener("change", () => {
  const url = new URL(location.href);
  if (stackSelect.value) url.searchParams.set("stack", stackSelect.value); else url.searchParams.delete("stack");
  history.replaceState(null, "", url);
});
poll();
