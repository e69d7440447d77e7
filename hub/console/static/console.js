// Lintel console: the few helpers every page uses (messages, API calls, DOM, live feed).
"use strict";

const Lintel = (() => {
  const messages = JSON.parse(document.getElementById("i18n").textContent);
  const lang = window.LINTEL.lang;
  const locale = lang === "zh" ? "zh-CN" : "en-US";  // also the API's Accept-Language; "Dec 5"

  function t(key, values) {
    let text = messages[key];
    if (text === undefined) { console.error("missing message", key); return key; }
    for (const [name, value] of Object.entries(values || {})) text = text.replaceAll(`{${name}}`, value);
    return text;
  }

  // A message for a value of the API (a status, a reason), or the value itself.
  function word(prefix, value) {
    return messages[prefix + value] ?? String(value ?? "");
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, body, retryAfter = null) {
      super(describe(body) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
      this.retryAfter = retryAfter;  // seconds, from a 429's Retry-After
    }
  }

  function describe(body) {
    if (!body) return "";
    if (Array.isArray(body.detail)) return body.detail.map((p) => p.message ?? `${p.field}: ${p.reason}`).join("; ");
    return body.message || body.detail || body.error || "";
  }

  async function api(method, path, body) {
    // the hub renders the texts it made (alarm messages, titles, errors) in this language
    const init = {method, headers: {"Accept-Language": locale}, credentials: "same-origin"};
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch("/api/v1" + path, init);
    if (resp.status === 401 && path !== "/auth/login") {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    }
    const data = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) {
      const retry = Number(resp.headers.get("Retry-After"));
      throw new ApiError(resp.status, data, Number.isFinite(retry) && retry > 0 ? retry : null);
    }
    return data;
  }

  // "Dec 5, 14:03:07" / "12月5日 14:03:07": a month a person reads, not "12-05".
  function time(iso, withDate = true) {
    if (!iso) return "—";
    const opts = {hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"};
    if (withDate) Object.assign(opts, {month: "short", day: "numeric"});
    return new Date(iso).toLocaleString(locale, opts);
  }

  // A day and time without seconds: "Dec 5, 14:03" / "12月5日 14:03".
  function date(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString(locale, {month: "short", day: "numeric", hour: "2-digit",
      minute: "2-digit", hourCycle: "h23"});
  }

  // A count with its noun: `key.one` / `key.other` by the language's plural rule ("1 use").
  function plural(key, n) {
    const form = new Intl.PluralRules(locale).select(n);
    return t(messages[`${key}.${form}`] !== undefined ? `${key}.${form}` : `${key}.other`, {n});
  }

  function pill(text, kind) { return el("span", {class: `pill ${kind || ""}`}, text); }

  const KIND = {online: "ok", ok: "ok", active: "ok", granted: "ok", normal: "ok",
    offline: "bad", fault: "bad", failed: "bad", rejected: "bad", denied: "bad", revoked: "bad",
    lost: "bad", locked_down: "bad", expired: "warn", suspended: "warn", unknown: "",
    sent: "info", unsent: "warn", not_yet_valid: "warn", used_up: "warn"};

  function statusPill(status) { return pill(word("status.", status), KIND[status] ?? ""); }

  function toast(text, kind) {
    const box = el("div", {class: `toast ${kind || ""}`, role: "status"}, text);
    document.getElementById("toasts").append(box);
    setTimeout(() => box.remove(), 4500);
  }

  function toastError(error) { toast(t("error.generic", {detail: error.message}), "bad"); }

  // Asks for the reason of an operator action (or an optional note); resolves to the text,
  // or null if cancelled.
  function askReason(title, {label = null, optional = false} = {}) {
    const dialog = document.getElementById("reason-dialog");
    const area = dialog.querySelector("textarea");
    const caption = dialog.querySelector("label").firstChild;
    caption.textContent = label ?? t("common.reason_prompt");
    dialog.querySelector("#reason-title").textContent = title;
    area.value = "";
    area.required = !optional;
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        const text = area.value.trim();
        resolve(dialog.returnValue === "ok" && (text || optional) ? text : null);
      }, {once: true});
    });
  }

  // Replaces a table body's rows; `row(item)` returns a <tr> (cells carry data-label for phones).
  function fill(tbody, items, row) {
    tbody.replaceChildren();
    if (!items.length) {
      const cols = tbody.closest("table").querySelectorAll("thead th").length || 1;
      tbody.append(el("tr", {}, el("td", {class: "empty", colspan: cols}, t("common.none"))));
      return;
    }
    for (const item of items) tbody.append(row(item));
  }

  // A table cell labelled with its column's heading (shown on phone widths).
  function td(label, ...content) { return el("td", {"data-label": label}, ...content); }

  // The live feed: a WebSocket on /api/v1/live that reconnects with backoff and jitter.
  // `onConnect` (re)loads the page's lists each time the feed opens, the first time too: the
  // hub opens the socket once its pushes flow to it, so a list loaded after that misses nothing
  // (loaded before, an event stored between the load and the open showed only at the next
  // reload). A feed that cannot open within LOAD_ANYWAY_MS, or fails, still gets its lists.
  const LOAD_ANYWAY_MS = 3000;
  function live(handlers, onConnect) {
    const channels = window.LINTEL.channels;
    const badge = document.getElementById("live");
    const load = () => { if (onConnect) onConnect(); };
    if (!channels.length) { load(); return; }
    let delay = 500;
    let loaded = false;  // the lists have been loaded at least once
    const fallback = setTimeout(() => { if (!loaded) { loaded = true; load(); } }, LOAD_ANYWAY_MS);
    function connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${location.host}/api/v1/live?channels=${channels.join(",")}&lang=${lang}`);
      ws.onopen = () => {
        delay = 500;
        if (badge) { badge.classList.add("on"); badge.textContent = t("live.connected"); }
        loaded = true;
        clearTimeout(fallback);
        load();  // pushes made while away (or before the first open) are in what it loads
      };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch { return; }
        const handle = handlers[msg.channel];
        if (handle) handle(msg.data);
      };
      ws.onclose = () => {
        if (!loaded) { loaded = true; clearTimeout(fallback); load(); }  // refused: lists without pushes
        if (badge) { badge.classList.remove("on"); badge.textContent = t("live.reconnecting"); }
        setTimeout(connect, delay * (0.75 + Math.random() / 2));
        delay = Math.min(delay * 2, 15000);
      };
    }
    connect();
  }

  // Runs `fn` at most once per `ms` however often it is asked for.
  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  async function copy(text) {
    try { await navigator.clipboard.writeText(text); toast(t("common.copied")); }
    catch { window.prompt(t("common.copy"), text); }
  }

  return {t, word, el, api, time, date, plural, pill, statusPill, toast, toastError, askReason, fill, td,
    live, debounce, copy, lang};
})();
