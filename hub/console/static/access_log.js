// The access log: search by name or card, filter by time window, building, door, result and
// reason, page on by cursor, and export the same selection as CSV (all of it, not one page).
// The filters live in the address, so a reload or a shared link shows the same selection.
"use strict";
(() => {
  const {t, word, el, api, time, pill, toastError, td} = Lintel;
  const form = document.getElementById("access-filters");
  const rows = document.getElementById("access-log-rows");
  const more = document.getElementById("access-more");
  const end = document.getElementById("access-end");
  const PAGE = 100;
  let cursor = null, shown = 0;

  function localInput(iso) {  // an ISO time as a datetime-local value, in this browser's zone
    const d = new Date(iso);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  }

  function params() {
    const p = new URLSearchParams();
    for (const name of ["q", "building", "door", "result", "reason"]) {
      const value = form.elements[name].value.trim();
      if (value) p.set(name, value);
    }
    for (const name of ["since", "until"]) {
      const value = form.elements[name].value;
      if (value) p.set(name, new Date(value).toISOString());
    }
    return p;
  }

  function person(e) {
    if (!e.person) return "—";
    return e.person_kind === "visitor" ? [e.person, " ", el("span", {class: "muted small"}, t("access.visitor"))] : e.person;
  }

  function row(e) {
    const result = e.result === "granted" ? pill(t("access.granted"), "ok")
      : pill(`${t("access.denied")} · ${word("reason.", e.reason)}`, "bad");
    return el("tr", {dataset: {id: e.id}},
      td(t("common.time"), time(e.ts)),
      td(t("common.door"), e.door_name || e.door),
      td(t("access.person"), person(e)),
      td(t("access.credential"), `${word("cred.", e.credential_type)} ${e.credential}`),
      td(t("access.result"), result));
  }

  // `pending`: the first page, asked for before the form could say what it holds
  async function load(next, pending = null) {
    const p = params();
    p.set("limit", String(PAGE));
    if (next) p.set("cursor", cursor);
    const page = await (pending ?? api("GET", `/access-events?${p}`));
    if (!next) { rows.replaceChildren(); shown = 0; }
    if (!next && !page.items.length) {
      rows.append(el("tr", {}, el("td", {class: "empty", colspan: 5}, t("common.none"))));
    }
    page.items.forEach((e) => rows.append(row(e)));
    shown += page.items.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    end.hidden = Boolean(cursor) || !shown;
    document.getElementById("access-count").textContent = t("access.shown", {n: shown});
  }

  function apply(pending = null) {
    const p = params();
    history.replaceState(null, "", `${location.pathname}${p.toString() ? "?" + p : ""}`);
    const csv = new URLSearchParams(p);
    csv.set("format", "csv");
    document.getElementById("access-export").href = `/api/v1/access-events?${csv}`;
    return load(false, pending);
  }

  async function choices() {
    const [buildings, doors] = await Promise.all([api("GET", "/buildings"), api("GET", "/doors")]);
    form.elements.building.append(...buildings.items.map((b) => el("option", {value: b.id}, `${b.name} (${b.code})`)));
    form.elements.door.append(...doors.items.map((d) => el("option", {value: d.name}, d.label || d.name)));
    const reasons = Object.keys(JSON.parse(document.getElementById("i18n").textContent))
      .filter((k) => k.startsWith("reason.") && k !== "reason.granted").map((k) => k.slice(7));
    form.elements.reason.append(...reasons.map((r) => el("option", {value: r}, word("reason.", r))));
    const given = new URLSearchParams(location.search);
    for (const [name, value] of given) {
      if (!form.elements[name]) continue;
      form.elements[name].value = name === "since" || name === "until" ? localInput(value) : value;
    }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); apply().catch(toastError); });
  form.addEventListener("reset", () => setTimeout(() => apply().catch(toastError)));
  more.addEventListener("click", () => load(true).catch(toastError));
  // the first page, from the address's filters, asked beside the choices the form needs
  const FILTERS = ["q", "building", "door", "result", "reason", "since", "until"];
  const first = new URLSearchParams([...new URLSearchParams(location.search)]
    .filter(([name, value]) => FILTERS.includes(name) && value));
  first.set("limit", String(PAGE));
  const firstPage = api("GET", `/access-events?${first}`);
  firstPage.catch(() => {});  // awaited in apply; a refusal shows there
  choices().then(() => apply(firstPage)).catch(toastError);
})();
