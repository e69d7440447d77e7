// Alarm history: every alarm, newest first, filtered by time window, kind, building, state and
// severity, paged by cursor; who acknowledged and cleared each, and when.
"use strict";
(() => {
  const {t, word, el, api, time, pill, toastError, td} = Lintel;
  const form = document.getElementById("alarm-filters");
  const rows = document.getElementById("alarm-history-rows");
  const more = document.getElementById("alarm-more");
  const end = document.getElementById("alarm-end");
  const PAGE = 50;
  let cursor = null, shown = 0;

  function params() {
    const p = new URLSearchParams();
    for (const name of ["type", "building_id", "state", "severity"]) {
      if (form.elements[name].value) p.set(name, form.elements[name].value);
    }
    for (const name of ["since", "until"]) {
      const value = form.elements[name].value;
      if (value) p.set(name, new Date(value).toISOString());
    }
    return p;
  }

  function handled(a) {
    const steps = [];
    if (a.acknowledged_at) steps.push(`${t("alarms.acknowledged_by", {who: a.acknowledged_by_text ?? a.acknowledged_by ?? "—"})} ${time(a.acknowledged_at)}`);
    if (a.cleared_at) steps.push(`${t("alarms.cleared_by", {who: a.cleared_by_text ?? a.cleared_by ?? "—"})} ${time(a.cleared_at)}`);
    return steps.length ? steps.join(" · ") : "—";
  }

  function row(a) {
    const where = [a.door, a.device, a.edge].filter(Boolean)[0] ?? "—";
    return el("tr", {dataset: {alarm: a.id, type: a.type, state: a.state}},
      td(t("alarms.raised"), time(a.raised_at)),
      td(t("alarms.kind"), word("alarm.", a.type), el("div", {class: "muted small"}, a.message)),
      td(t("alarms.severity"), pill(word("severity.", a.severity), a.severity === "minor" || a.severity === "info" ? "warn" : "bad")),
      td(t("alarms.where"), where),
      el("td", {class: "num", "data-label": t("alarms.count")}, a.count),
      td(t("common.status"), pill(word("state.", a.state), a.state === "active" ? "bad" : a.state === "acknowledged" ? "info" : "ok")),
      td(t("alarms.handled"), handled(a)));
  }

  async function load(next) {
    const p = params();
    p.set("limit", String(PAGE));
    if (next) p.set("cursor", cursor);
    const page = await api("GET", `/alarms?${p}`);
    if (!next) { rows.replaceChildren(); shown = 0; }
    if (!next && !page.items.length) {
      rows.append(el("tr", {}, el("td", {class: "empty", colspan: 7}, t("common.none"))));
    }
    page.items.forEach((a) => rows.append(row(a)));
    shown += page.items.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    end.hidden = Boolean(cursor) || !shown;
    document.getElementById("alarm-history-count").textContent = t("access.shown", {n: shown});
  }

  async function choices() {
    const buildings = await api("GET", "/buildings");
    form.elements.building_id.append(...buildings.items.map((b) => el("option", {value: b.id}, `${b.name} (${b.code})`)));
    const kinds = Object.keys(JSON.parse(document.getElementById("i18n").textContent))
      .filter((k) => k.startsWith("alarm.")).map((k) => k.slice(6));
    form.elements.type.append(...kinds.map((k) => el("option", {value: k}, word("alarm.", k))));
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(false).catch(toastError); });
  form.addEventListener("reset", () => setTimeout(() => load(false).catch(toastError)));
  more.addEventListener("click", () => load(true).catch(toastError));
  // the first page beside the choices: it needs none of them (the filters start empty)
  Promise.all([choices(), load(false)]).catch(toastError);
})();
