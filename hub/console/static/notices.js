// Notices: a manager posts them to the compound, a building or a unit and withdraws them;
// a resident reads those for their home. New ones arrive on the live feed.
"use strict";
(() => {
  const {t, el, api, time, pill, toast, toastError} = Lintel;
  const form = document.getElementById("notice-form");  // managers only
  const list = document.getElementById("notice-list");
  const places = new Map();

  function noticeCard(n) {
    const source = n.source === "manual" ? t("notices.from", {who: n.created_by}) : t("notices.rule");
    return el("article", {class: "card notice-card", dataset: {notice: n.id}},
      el("div", {class: "building-head"}, el("h3", {}, n.title),
        form ? pill(places.get(n.unit_id ? `u${n.unit_id}` : n.building_id ? `b${n.building_id}` : "site")
          ?? t("notices.whole_site"), "info") : null),
      el("p", {class: "notice-body"}, n.body),
      el("div", {class: "muted small"}, `${time(n.valid_from)}${n.valid_until ? " – " + time(n.valid_until) : ""} · ${source}`,
        form ? el("button", {class: "small danger", style: "margin-left:1rem",
          onclick: () => withdraw(n)}, t("notices.withdraw")) : null));
  }

  async function load() {
    const notices = await api("GET", form ? "/notices" : "/notices?current=true");
    list.replaceChildren(...(notices.items.length ? notices.items.map(noticeCard)
      : [el("p", {class: "muted"}, form ? t("common.none") : t("notices.none"))]));
    window.dispatchEvent(new Event("lintel:notices"));  // the menu's badge (residents)
  }

  async function withdraw(n) {
    if (!window.confirm(t("notices.withdraw_confirm"))) return;
    try { await api("DELETE", `/notices/${n.id}`); toast(t("notices.withdrawn")); await load(); }
    catch (error) { toastError(error); }
  }

  async function loadTargets() {
    const [sites, buildings, units] = await Promise.all(["/sites", "/buildings", "/units"].map((p) => api("GET", p)));
    const codes = new Map(buildings.items.map((b) => [b.id, b.code]));
    places.set("site", t("notices.whole_site"));
    for (const b of buildings.items) places.set(`b${b.id}`, `${b.name} (${b.code})`);
    for (const u of units.items) places.set(`u${u.id}`, `${codes.get(u.building_id)} ${u.number}`);
    form.dataset.site = sites.items[0]?.id ?? "";
    form.elements.target.replaceChildren(...[...places].map(([key, label]) => el("option", {value: key}, label)));
  }

  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const target = form.elements.target.value;
      const body = {site_id: form.dataset.site, title: form.elements.title.value.trim(),
        body: form.elements.body.value.trim()};
      if (target.startsWith("b")) body.building_id = Number(target.slice(1));
      if (target.startsWith("u")) body.unit_id = Number(target.slice(1));
      const error = document.getElementById("notice-error");
      error.textContent = "";
      if (form.elements.valid_until.value) {
        const until = new Date(form.elements.valid_until.value);
        if (until <= new Date()) { error.textContent = t("notices.past"); return; }
        body.valid_until = until.toISOString();
      }
      try { await api("POST", "/notices", body); toast(t("notices.posted")); form.reset(); await load(); }
      catch (e) {
        const past = e.body && Array.isArray(e.body.detail) && e.body.detail.some((p) => p.field === "valid_until");
        error.textContent = past ? t("notices.past") : e.message;
      }
    });
  }
  const reload = Lintel.debounce(() => load().catch(toastError), 300);
  Lintel.live({notices: reload}, () => (form ? loadTargets() : Promise.resolve()).then(load).catch(toastError));
})();
