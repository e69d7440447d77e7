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

  const ask = () => api("GET", form ? "/notices" : "/notices?current=true");

  async function load(asked = null) {
    const notices = await (asked ?? ask());
    if (form) {  // the units the list names, asked per building they are in
      const buildings = new Set(notices.items.filter((n) => n.unit_id && !places.has(`u${n.unit_id}`))
        .map((n) => n.building_id).filter(Boolean));
      await Promise.all([...buildings].map(unitsOf));
    }
    list.replaceChildren(...(notices.items.length ? notices.items.map(noticeCard)
      : [el("p", {class: "muted"}, form ? t("common.none") : t("notices.none"))]));
    window.dispatchEvent(new Event("lintel:notices"));  // the menu's badge (residents)
  }

  async function withdraw(n) {
    if (!window.confirm(t("notices.withdraw_confirm"))) return;
    try { await api("DELETE", `/notices/${n.id}`); toast(t("notices.withdrawn")); await load(); }
    catch (error) { toastError(error); }
  }

  // Where a notice goes: the site, a building, or one unit of it (units asked per building:
  // a compound has thousands).
  async function loadTargets() {
    const [sites, buildings] = await Promise.all(["/sites", "/buildings"].map((p) => api("GET", p)));
    places.set("site", t("notices.whole_site"));
    for (const b of buildings.items) places.set(`b${b.id}`, `${b.name} (${b.code})`);
    form.dataset.site = sites.items[0]?.id ?? "";
    form.elements.target.replaceChildren(...[...places].map(([key, label]) => el("option", {value: key}, label)));
    const unit = form.elements.unit;
    form.elements.target.onchange = async () => {
      const target = form.elements.target.value;
      unit.replaceChildren(el("option", {value: ""}, t("notices.whole_building")));
      unit.disabled = !target.startsWith("b");
      if (unit.disabled) return;
      const units = await unitsOf(Number(target.slice(1)));
      unit.append(...units.map((u) => el("option", {value: u.id}, places.get(`u${u.id}`))));
    };
  }

  async function unitsOf(building) {
    const units = (await api("GET", `/units?building_id=${building}`)).items;
    const name = places.get(`b${building}`) ?? "";
    for (const u of units) places.set(`u${u.id}`, `${name} ${u.number}`);
    return units;
  }

  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const target = form.elements.target.value;
      const body = {site_id: form.dataset.site, title: form.elements.title.value.trim(),
        body: form.elements.body.value.trim()};
      if (target.startsWith("b")) body.building_id = Number(target.slice(1));
      if (form.elements.unit.value) body.unit_id = Number(form.elements.unit.value);
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
  Lintel.live({notices: reload}, () => {
    const asked = ask();  // beside the places its pills name
    asked.catch(() => {});
    (form ? loadTargets() : Promise.resolve()).then(() => load(asked)).catch(toastError);
  });
})();
